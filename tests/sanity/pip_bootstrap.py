"""Our stand-in for ansible-test's get-pip bootstrap script, whose download host is unreachable here.

ansible-test runs it inside each fresh sanity virtualenv as ``python get_pip_X.py [pip options]
pip==X setuptools==Y ...``. It installs pip with ensurepip, then the requested pins from the
package index (which is reachable). tests/run_all.py places it in ansible-test's cache.
"""
import subprocess
import sys


def main() -> None:
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    # --no-setuptools / --no-wheel are get-pip switches, not pip install options.
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])


main()
