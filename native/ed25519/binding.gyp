{
  "targets": [
    {
      "target_name": "kubetrail_ed25519",
      "sources": ["ed25519.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-lsodium"]
    }
  ]
}
