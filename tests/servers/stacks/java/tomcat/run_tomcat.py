"""Build a CATALINA_BASE under /tmp and run Debian's Tomcat 10.1 with WsEndpoints.java.

Usage: python3 run_tomcat.py PORT   (0 = any free port). Prints ``PORT <n>`` once Tomcat
listens, then keeps running until killed (it kills Tomcat on exit).
Needs: apt-get install tomcat10 (CATALINA_HOME /usr/share/tomcat10) and a JDK (javac).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HOME = "/usr/share/tomcat10"
LIB = os.path.join(HOME, "lib")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    port = port or free_port()
    base = tempfile.mkdtemp(prefix="wsinspect-tomcat-")
    for sub in ("conf", "logs", "temp", "work", "webapps/ROOT/WEB-INF/classes"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    shutil.copy(os.path.join(HERE, "conf", "server.xml"), os.path.join(base, "conf"))
    for name in ("web.xml", "context.xml", "catalina.properties", "logging.properties"):
        shutil.copy(os.path.join("/etc/tomcat10", name), os.path.join(base, "conf"))
    jars = ("servlet-api.jar", "websocket-api.jar", "websocket-client-api.jar")
    classpath = ":".join(os.path.join(LIB, j) for j in jars)
    subprocess.run(
        [
            "javac",
            "-cp",
            classpath,
            "-d",
            os.path.join(base, "webapps/ROOT/WEB-INF/classes"),
            os.path.join(HERE, "src", "WsEndpoints.java"),
        ],
        check=True,
    )
    opts = f"-Dws.port={port}"
    env = dict(os.environ, CATALINA_HOME=HOME, CATALINA_BASE=base, CATALINA_OPTS=opts)
    with open(os.path.join(base, "logs", "console.log"), "wb") as log:
        proc = subprocess.Popen(
            [os.path.join(HOME, "bin", "catalina.sh"), "run"], env=env, stdout=log, stderr=log
        )

    def stop(*_args):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"tomcat exited, see {base}/logs")
            time.sleep(0.3)
    print(f"PORT {port}", flush=True)
    proc.wait()
    stop()


if __name__ == "__main__":
    main()
