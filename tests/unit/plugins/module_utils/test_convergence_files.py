"""Files in a convergence record (the kubeconfig's, issue #23): read on the host the module runs on."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.module_utils.convergence_reads import read_files


def test_files_are_read_by_sha256_and_mode_and_a_missing_one_has_no_entry(tmp_path):
    kubeconfig = tmp_path / "view.kubeconfig"
    kubeconfig.write_bytes(b"users: [{user: {token: secret}}]\n")
    kubeconfig.chmod(0o600)
    entries, errors = read_files([str(kubeconfig), str(tmp_path / "gone"), str(kubeconfig)])
    assert errors == []
    assert entries == [C.file_entry(str(kubeconfig), kubeconfig.read_bytes(), 0o600)]
    assert entries[0]["mode"] == "0600" and "secret" not in str(entries)


def test_a_directory_where_the_file_should_be_is_an_error(tmp_path):
    entries, errors = read_files([str(tmp_path)])
    assert entries == [] and errors == [f"file {tmp_path}: Is a directory"]
