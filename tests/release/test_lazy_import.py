"""Issue 12, item 2: ``msgbus.testing.MemoryBus`` after a plain ``import msgbus``, without importing it eagerly."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_the_documented_form_works_after_a_plain_import() -> None:
    proc = _run(
        """
        import sys
        import msgbus

        # `import msgbus` stays cheap: neither the testing machinery nor aio comes with it.
        assert "msgbus.testing" not in sys.modules, "msgbus.testing imported eagerly"
        assert "msgbus.aio" not in sys.modules, "msgbus.aio imported eagerly"
        with msgbus.testing.MemoryBus() as memory:
            reader = memory.reader("t")
            memory.writer("t").message_write("hello")
            assert reader.message_read(timeout=10) == "hello"
        assert msgbus.aio.connect is sys.modules["msgbus.aio"].connect
        assert {"aio", "testing"} <= set(dir(msgbus))
        print("ok")
        """
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_an_unknown_attribute_still_raises_attribute_error() -> None:
    proc = _run(
        """
        import msgbus
        try:
            msgbus.no_such_name
        except AttributeError as err:
            print(err)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "module 'msgbus' has no attribute 'no_such_name'" in proc.stdout


def test_import_msgbus_needs_no_optional_extra() -> None:
    # prometheus-client and opentelemetry come only with msgbus.prometheus and tracing=True.
    proc = _run(
        """
        import sys
        import msgbus

        assert not [m for m in sys.modules if m.startswith(("prometheus_client", "opentelemetry"))], sorted(sys.modules)
        assert "msgbus.prometheus" not in sys.modules
        msgbus.serve_ops(0, host="127.0.0.1").close()
        assert "prometheus_client" in sys.modules
        print("ok")
        """
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
