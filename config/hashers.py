"""The password hasher: Argon2id (argon2-cffi), Django's recommended one, with parameters sized
for a login that answers within 300 ms on two shared cores.

Django's own Argon2 parameters (time cost 2, 100 MiB, 8 lanes) cost ≈ 0.23 s of CPU per check on
the demo machine, nearly the whole budget of the login request; these (time cost 2, 64 MiB, 2 lanes)
cost ≈ 0.13–0.15 s (docs/benchmarks.md, "Pages and actions"), and stay above OWASP's recommended minimum
for Argon2id (19 MiB, time cost 2, 1 lane) and near RFC 9106's second recommended option (64 MiB,
time cost 3, 4 lanes). A password hashed with other parameters, or another hasher still listed in
``PASSWORD_HASHERS``, is re-hashed with these at its next successful login (``must_update``)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class RelaisArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 65536  # KiB: 64 MiB
    parallelism = 2
