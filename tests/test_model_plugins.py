"Models registered by plugin modules (SGConvNeXt) are found by name without importing their module first"
import subprocess, sys

def test_plugin_model_found_by_name():
    code = ("import sys; from sgconv.models import model_config; assert 'sgconv.convnext' not in sys.modules; "
            "print(model_config('sgconvnext-atto').size)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'atto'

def test_language_models_found_by_name():
    code = "from sgconv.models import model_config; print(model_config('hybrid18').model)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'hybrid18'
