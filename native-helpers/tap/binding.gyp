{
  "targets": [
    {
      "target_name": "tap",
      "sources": ["src/tap.c", "src/tap-errors.c", "src/tap-ioctl.c", "src/fastpath.c", "src/vnet.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
