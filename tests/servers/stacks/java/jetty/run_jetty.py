"""Compile JettyServer.java against Debian's Jetty 9.4 jars and run it.

Usage: python3 run_jetty.py PORT   (0 = any; JettyServer prints ``PORT <n>``).
Needs: apt-get install libjetty9-java libjetty9-extra-java (and a JDK for javac).
"""

import glob
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
JAVA = "/usr/share/java"
# the unversioned jetty9-*.jar links (the versioned copies are the same jars)
JETTY = sorted(
    os.path.basename(p)
    for p in glob.glob(os.path.join(JAVA, "jetty9-*.jar"))
    if not any(ch.isdigit() for ch in os.path.basename(p)[7:])
)
JARS = ["servlet-api.jar", "websocket-api.jar", *JETTY]


def main() -> None:
    port = sys.argv[1] if len(sys.argv) > 1 else "0"
    classpath = ":".join(os.path.join(JAVA, j) for j in JARS)
    out = tempfile.mkdtemp(prefix="wsinspect-jetty-")
    src = os.path.join(HERE, "JettyServer.java")
    if os.system(f"javac -nowarn -cp {classpath} -d {out} {src}") != 0:
        sys.exit("javac failed")
    os.execvp("java", ["java", "-cp", f"{out}:{classpath}", "JettyServer", port])


if __name__ == "__main__":
    main()
