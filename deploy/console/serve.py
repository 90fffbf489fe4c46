#!/usr/bin/python3
"""Serve the console form on this machine, with nothing copied anywhere.

    python3 deploy/console/serve.py [--port N]
    then open http://127.0.0.1:N/deploy/console/

The page needs two trees: the repository (the page itself and
../../schemas/*.json) and Debian's /usr/share/javascript, which holds
libjs-json-editor. This server maps them as Debian's javascript-common does
for Apache: /javascript/ is /usr/share/javascript/, everything else is the
repository. It listens on 127.0.0.1 only.

tests/integration/console/test_console_form.py imports ConsoleServer from
here, so the test serves the page exactly as an admin would.
"""

import argparse
import functools
import http.server
import os
import posixpath
import threading
import urllib.parse

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_JAVASCRIPT_DIR = "/usr/share/javascript"
JAVASCRIPT_PREFIX = "/javascript/"
PAGE_PATH = "/deploy/console/"


class ConsoleRequestHandler(http.server.SimpleHTTPRequestHandler):
    """The repository at /, Debian's /usr/share/javascript at /javascript/."""

    def __init__(self, *args, repo_dir=REPO_DIR, javascript_dir=SYSTEM_JAVASCRIPT_DIR, **kwargs):
        self.javascript_dir = javascript_dir
        super().__init__(*args, directory=repo_dir, **kwargs)

    def translate_path(self, path):
        url_path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        if url_path.startswith(JAVASCRIPT_PREFIX):
            # normpath of an absolute path cannot climb above its root, so
            # "/javascript/../../etc" stays inside javascript_dir.
            rest = posixpath.normpath("/" + url_path[len(JAVASCRIPT_PREFIX):]).lstrip("/")
            return os.path.join(self.javascript_dir, *rest.split("/")) if rest else self.javascript_dir
        return super().translate_path(path)

    def end_headers(self):
        # The schemas change while the page is open during development.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if getattr(self.server, "quiet", False):
            return
        super().log_message(format, *args)


class ConsoleServer:
    """A threaded HTTP server on 127.0.0.1 for the console page.

    port 0 picks a free port; .url is the page's address once started.
    Use as a context manager, or call start() and stop().
    """

    def __init__(self, port=0, repo_dir=REPO_DIR, javascript_dir=SYSTEM_JAVASCRIPT_DIR, quiet=True):
        handler = functools.partial(ConsoleRequestHandler, repo_dir=repo_dir,
                                    javascript_dir=javascript_dir)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.quiet = quiet
        self.thread = None

    @property
    def base_url(self):
        host, port = self.httpd.server_address[:2]
        return "http://%s:%d" % (host, port)

    @property
    def url(self):
        return self.base_url + PAGE_PATH

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread:
            self.thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    parser = argparse.ArgumentParser(description="Serve deploy/console/ on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(SYSTEM_JAVASCRIPT_DIR, "json-editor", "jsoneditor.min.js")):
        parser.exit(1, "serve.py: %s/json-editor is missing: run deploy/setup.sh\n"
                    % SYSTEM_JAVASCRIPT_DIR)
    server = ConsoleServer(port=args.port, quiet=False)
    print("console form: %s (Ctrl+C stops)" % server.url, flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
