"""Isolation layer: `python -m gradcalc.isolate` compiles the syscall filter with libseccomp for
this machine into gradcalc/isolate/seccomp.json (run it after editing seccomp.rules())."""

from gradcalc.isolate import seccomp

out = seccomp.build()
print(f"wrote {seccomp.DATA_FILE}: " + ", ".join(
    f"{arch} ({len(p['bpf']) // 16} instructions, libseccomp {p['libseccomp']})"
    for arch, p in out["programs"].items()))
