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
