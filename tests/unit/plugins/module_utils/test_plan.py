from ansible_collections.nodeless.eks.plugins.module_utils.plan import collect


def test_our_modules_report_their_own_changes():
    result = {"changed": True, "changes": [{"resource": "aws:iam-role/x", "action": "add"}]}
    assert collect("nodeless.eks.oidc_provider", {}, result) == [{"resource": "aws:iam-role/x", "action": "add"}]


def test_unchanged_results_and_fact_tasks_report_nothing():
    assert collect("kubernetes.core.k8s", {}, {"changed": False}) == []
    assert collect("ansible.builtin.set_fact", {}, {"changed": True}) == []


def test_k8s_objects_named_from_the_result_or_the_definition():
    created = {"changed": True, "method": "create", "result": {"kind": "Namespace", "metadata": {"name": "apps"}}}
    assert collect("kubernetes.core.k8s", {}, created) == [{"resource": "k8s:Namespace/apps", "action": "add"}]
    dry = {"changed": True, "invocation": {"module_args": {"definition": {
        "kind": "Deployment", "metadata": {"name": "ca", "namespace": "kube-system"}}}}}
    assert collect("kubernetes.core.k8s", {}, dry) == [{"resource": "k8s:Deployment/kube-system/ca", "action": "change"}]


def test_loop_items_use_the_rendered_arguments():
    result = {"changed": True, "results": [
        {"changed": True, "invocation": {"module_args": {"name": "lab-fargate", "state": "present"}}, "diff": {"before": {}, "after": {"a": 1}}},
        {"changed": False}]}
    assert collect("community.aws.eks_fargate_profile", {"name": "{{ item.name }}"}, result) == [
        {"resource": "aws:eks_fargate_profile/lab-fargate", "action": "add"}]


def test_server_side_apply_is_an_add_when_its_diff_has_nothing_before():
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    new = {"changed": True, "method": "apply", "result": obj, "diff": {"before": {}, "after": {"data": {"a": "1"}}}}
    assert collect("kubernetes.core.k8s", {}, new) == [{"resource": "k8s:ConfigMap/n/c", "action": "add"}]
    changed = dict(new, diff={"before": {"data": {"a": "0"}}, "after": {"data": {"a": "1"}}})
    assert collect("kubernetes.core.k8s", {}, changed) == [{"resource": "k8s:ConfigMap/n/c", "action": "change"}]
    no_diff = {"changed": True, "method": "apply", "result": obj}  # run without --diff: cannot tell, say change
    assert collect("kubernetes.core.k8s", {}, no_diff) == [{"resource": "k8s:ConfigMap/n/c", "action": "change"}]


def test_a_predicting_debug_task_states_its_entries_and_a_plain_debug_reports_nothing():
    entry = {"resource": "k8s:Deployment/o/o", "action": "add"}
    predicted = {"changed": True, "msg": {"would": "create it", "changes": [entry, "not an entry"]}}
    assert collect("ansible.builtin.debug", {}, predicted) == [entry]
    assert collect("ansible.builtin.debug", {}, {"changed": True, "msg": "would create it"}) == []
    assert collect("ansible.builtin.debug", {}, dict(predicted, changed=False)) == []


def test_loop_items_without_arguments_fill_the_loop_variable_into_the_name():
    result = {"changed": True, "results": [
        {"changed": True, "ansible_loop_var": "item", "item": {"role_name": "lab-irsa-ca"}},
        {"changed": True, "ansible_loop_var": "rule", "rule": {"suffix": "spot"}}]}
    assert collect("amazon.aws.iam_role", {"name": "{{ item.role_name }}"}, {"results": result["results"][:1]}) == [
        {"resource": "aws:iam_role/lab-irsa-ca", "action": "change"}]
    assert collect("amazon.aws.sqs_queue", {"name": "{{ prefix }}-{{ rule.suffix }}"}, {"results": result["results"][1:]}) == [
        {"resource": "aws:sqs_queue/{{ prefix }}-spot", "action": "change"}]


def test_a_definition_of_several_objects_gives_one_entry_per_changed_object():
    def sub(kind, name, changed=True, before=None):
        return {"changed": changed, "method": "apply", "result": {"kind": kind, "metadata": {"name": name, "namespace": "p"}},
                "diff": {"before": before or {}, "after": {"x": 1}}}
    result = {"changed": True, "result": {"results": [sub("ServiceAccount", "a"), sub("Role", "r", before={"x": 0}),
                                                      sub("RoleBinding", "b", changed=False)]}}
    assert collect("kubernetes.core.k8s", {}, result) == [
        {"resource": "k8s:ServiceAccount/p/a", "action": "add"}, {"resource": "k8s:Role/p/r", "action": "change"}]


def test_plan_entries_filter_names_objects_like_the_callback():
    from ansible_collections.nodeless.eks.plugins.filter.plan_entries import plan_entries

    objs = [{"kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "p"}}, {"kind": "ClusterRoleBinding", "metadata": {"name": "b"}}]
    assert plan_entries(objs) == [{"resource": "k8s:ServiceAccount/p/a", "action": "add"},
                                  {"resource": "k8s:ClusterRoleBinding/b", "action": "add"}]
    assert plan_entries(objs[0], "change") == [{"resource": "k8s:ServiceAccount/p/a", "action": "change"}]


def test_a_no_log_result_of_our_module_is_left_to_the_role_and_others_are_named_from_their_arguments():
    hidden = {"changed": True, "censored": "the output has been hidden due to the fact that 'no_log: true' was specified"}
    assert collect("nodeless.eks.service_account_token", {"namespace": "p"}, hidden) == []
    assert collect("ansible.builtin.copy", {"dest": "/k/config"}, hidden) == [{"resource": "host:copy//k/config", "action": "change"}]


def test_helm_release_is_an_add_on_first_install_in_check_mode_and_for_real():
    args = {"release_name": "karpenter", "release_namespace": "karpenter"}
    add = [{"resource": "k8s:HelmRelease/karpenter/karpenter", "action": "add"}]
    change = [{"resource": "k8s:HelmRelease/karpenter/karpenter", "action": "change"}]
    check_new = {"changed": True, "status": {"values": {"current": {}, "declared": {}}}}
    check_upgrade = {"changed": True, "status": {"values": {"current": {"a": 1}, "declared": {"revision": "3"}}}}
    assert collect("kubernetes.core.helm", args, check_new) == add
    assert collect("kubernetes.core.helm", args, check_upgrade) == change
    assert collect("kubernetes.core.helm", args, {"changed": True, "status": {"revision": "1", "status": "deployed"}}) == add
    assert collect("kubernetes.core.helm", args, {"changed": True, "status": {"revision": 2, "status": "deployed"}}) == change
    assert collect("kubernetes.core.helm", dict(args, state="absent"), {"changed": True}) == [
        {"resource": "k8s:HelmRelease/karpenter/karpenter", "action": "remove"}]
