"""BoxLite's v1 Box API as data: every operation and the response shapes
the conformance test checks (tests/integration/test_boxlite_conform.sh).

Taken from BoxLite's OpenAPI description, openapi/box.openapi.yaml in
github.com/boxlite-ai/boxlite at commit
01c4e7d1d7d040cea0ae923712509bd3fbd07483 (info.version 0.1.0; BoxLite is
Apache-2.0, Copyright 2024-2026 BoxLite Contributors). This is a
restatement of its interface (operations, statuses, required fields and
their types), not a copy of the file; when BoxLite's spec changes, this
table is brought in step by hand.
"""

# (operationId, method, path after /v1 without {prefix}, success status,
#  response schema or None)
OPERATIONS = [
    ("getConfig", "GET", "/config", 200, "ServerConfig"),
    ("getCurrentPrincipal", "GET", "/me", 200, "Principal"),
    ("createApiKey", "POST", "/api-keys", 201, "CreatedApiKey"),
    ("listApiKeys", "GET", "/api-keys", 200, "ListApiKeysResponse"),
    ("revokeApiKey", "DELETE", "/api-keys/{name}", 204, None),
    ("createVolume", "POST", "/volumes", 201, "Volume"),
    ("listVolumes", "GET", "/volumes", 200, "ListVolumesResponse"),
    ("getVolume", "GET", "/volumes/{volume_id}", 200, "Volume"),
    ("removeVolume", "DELETE", "/volumes/{volume_id}", 204, None),
    ("createBox", "POST", "/boxes", 201, "Box"),
    ("listBoxes", "GET", "/boxes", 200, "ListBoxesResponse"),
    ("getBox", "GET", "/boxes/{box_id}", 200, "Box"),
    ("boxExists", "HEAD", "/boxes/{box_id}", 204, None),
    ("removeBox", "DELETE", "/boxes/{box_id}", 204, None),
    ("startBox", "POST", "/boxes/{box_id}/start", 200, "Box"),
    ("stopBox", "POST", "/boxes/{box_id}/stop", 200, "Box"),
    ("createSnapshot", "POST", "/boxes/{box_id}/snapshots", 201, "Snapshot"),
    ("listSnapshots", "GET", "/boxes/{box_id}/snapshots", 200, "ListSnapshotsResponse"),
    ("getSnapshot", "GET", "/boxes/{box_id}/snapshots/{snapshot_name}", 200, "Snapshot"),
    ("removeSnapshot", "DELETE", "/boxes/{box_id}/snapshots/{snapshot_name}", 204, None),
    ("restoreSnapshot", "POST", "/boxes/{box_id}/snapshots/{snapshot_name}/restore", 204, None),
    ("cloneBox", "POST", "/boxes/{box_id}/clone", 201, "Box"),
    ("exportBox", "POST", "/boxes/{box_id}/export", 200, None),
    ("importBox", "POST", "/boxes/import", 201, "Box"),
    ("startExecution", "POST", "/boxes/{box_id}/exec", 201, "ExecResponse"),
    ("getExecution", "GET", "/boxes/{box_id}/executions/{exec_id}", 200, "ExecutionInfo"),
    ("killExecution", "DELETE", "/boxes/{box_id}/executions/{exec_id}", 204, None),
    ("attachExecution", "GET", "/boxes/{box_id}/executions/{exec_id}/attach", 101, None),
    ("signalExecution", "POST", "/boxes/{box_id}/executions/{exec_id}/signal", 204, None),
    ("resizeExecution", "POST", "/boxes/{box_id}/executions/{exec_id}/resize", 204, None),
    ("uploadFiles", "PUT", "/boxes/{box_id}/files", 204, None),
    ("downloadFiles", "GET", "/boxes/{box_id}/files", 200, None),
    ("prepareTunnel", "POST", "/boxes/{box_id}/network/tunnel", 200, "TunnelDescriptor"),
    ("getRuntimeMetrics", "GET", "/metrics", 200, "RuntimeMetrics"),
    ("getBoxMetrics", "GET", "/boxes/{box_id}/metrics", 200, "BoxMetrics"),
    ("pullImage", "POST", "/images/pull", 200, "ImageInfo"),
    ("listImages", "GET", "/images", 200, "ListImagesResponse"),
    ("getImage", "GET", "/images/{image_id}", 200, "ImageInfo"),
    ("imageExists", "HEAD", "/images/{image_id}", 204, None),
]

# Types: "str", "int", "num", "bool", "list", "obj"; a trailing "?" allows
# null. REQUIRED lists what must be there; TYPES what must have that type
# when present.
SCHEMAS = {
    "TunnelDescriptor": {"required": ["uri"], "types": {"uri": "str"}},
    "Snapshot": {"required": ["id", "box_id", "name", "created_at", "guest_disk_bytes",
                              "container_disk_bytes", "size_bytes"],
                 "types": {"id": "str", "box_id": "str", "name": "str", "created_at": "int",
                           "guest_disk_bytes": "int", "container_disk_bytes": "int",
                           "size_bytes": "int"}},
    "ListSnapshotsResponse": {"required": ["snapshots"], "types": {"snapshots": "list"}},
    "Volume": {"required": ["id", "name"],
               "types": {"id": "str", "name": "str", "state": "str", "size_bytes": "int"}},
    "ListVolumesResponse": {"required": ["volumes"], "types": {"volumes": "list"}},
    "ServerConfig": {"required": [], "types": {"defaults": "obj", "overrides": "obj",
                                               "capabilities": "obj"}},
    "ServerCapabilities": {"required": [], "types": {
        "linux_capabilities_enabled": "bool", "max_cpus": "int", "max_memory_mib": "int",
        "max_disk_size_gb": "int", "max_boxes_per_path_prefix": "int",
        "max_concurrent_executions": "int", "file_transfer_max_bytes": "int",
        "exec_timeout_max_seconds": "num", "tty_enabled": "bool", "streaming_enabled": "bool",
        "snapshots_enabled": "bool", "clone_enabled": "bool", "export_enabled": "bool",
        "idempotency_key_lifetime": "str"}},
    "Principal": {"required": ["sub", "principal_type", "scopes"],
                  "types": {"sub": "str", "principal_type": "str", "scopes": "list",
                            "path_prefix": "str?", "expires_at": "str?", "email": "str",
                            "display_name": "str"}},
    "Box": {"required": ["box_id", "status", "created_at", "updated_at", "image", "cpus",
                         "memory_mib"],
            "types": {"box_id": "str", "name": "str?", "status": "str", "created_at": "str",
                      "updated_at": "str", "pid": "int?", "image": "str", "cpus": "int",
                      "memory_mib": "int", "labels": "obj", "auto_stop": "int",
                      "auto_delete": "int", "auto_resume": "bool"}},
    "ListBoxesResponse": {"required": ["boxes"], "types": {"boxes": "list",
                                                           "next_page_token": "str?"}},
    "ExecResponse": {"required": ["execution_id"], "types": {"execution_id": "str"}},
    "ExecutionInfo": {"required": ["execution_id", "status"],
                      "types": {"execution_id": "str", "status": "str", "exit_code": "int?",
                                "started_at": "str", "duration_ms": "int?",
                                "error_message": "str?"}},
    "RuntimeMetrics": {"required": [], "types": {
        "boxes_created_total": "int", "boxes_failed_total": "int", "boxes_stopped_total": "int",
        "num_running_boxes": "int", "total_commands_executed": "int",
        "total_exec_errors": "int"}},
    "BoxMetrics": {"required": [], "types": {
        "commands_executed_total": "int", "exec_errors_total": "int", "bytes_sent_total": "int",
        "bytes_received_total": "int", "cpu_percent": "num?", "memory_bytes": "int?",
        "network_bytes_sent": "int?", "network_bytes_received": "int?",
        "network_tcp_connections": "int?", "network_tcp_errors": "int?",
        "boot_timing": "obj"}},
    "BootTiming": {"required": [], "types": {
        "total_create_ms": "int?", "guest_boot_ms": "int?", "filesystem_setup_ms": "int?",
        "image_prepare_ms": "int?", "guest_rootfs_ms": "int?", "box_config_ms": "int?",
        "box_spawn_ms": "int?", "container_init_ms": "int?"}},
    "ImageInfo": {"required": ["reference", "repository", "tag", "id", "cached_at"],
                  "types": {"reference": "str", "repository": "str", "tag": "str", "id": "str",
                            "cached_at": "str", "size_bytes": "int?"}},
    "ListImagesResponse": {"required": ["images"], "types": {"images": "list",
                                                             "next_page_token": "str?"}},
    "CreatedApiKey": {"required": ["name", "permissions", "created_at", "expires_at", "value"],
                      "types": {"name": "str", "permissions": "list", "created_at": "str",
                                "expires_at": "str?", "value": "str"}},
    "ListApiKeysResponse": {"required": ["api_keys"], "types": {"api_keys": "list"}},
    "ErrorResponse": {"required": ["error"], "types": {"error": "obj"}},
    "ErrorModel": {"required": ["message", "type", "code"],
                   "types": {"message": "str", "type": "str", "code": "str"}},
}

BOX_STATUSES = ["configured", "running", "stopping", "stopped", "paused", "failed", "unknown"]
EXEC_STATUSES = ["running", "completed", "killed", "timed_out"]
