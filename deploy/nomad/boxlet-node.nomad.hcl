# boxlet serve on every Nomad client (docs/scale.md, "Nomad"); the proxy
# in front is boxlet-proxy.nomad.hcl. Not validated: Debian has no nomad
# package, so neither `nomad job validate` nor a live cluster has run this
# file.
#
# A system job with raw_exec: boxlet serve needs root, the host's
# namespaces and cgroups, and its boxes must outlive the task, which a
# container's PID namespace would not let them.

variable "api_key" {
  type        = string
  description = "The API key every node takes (Authorization: Bearer KEY)."
  sensitive   = true
}

job "boxlet-node" {
  type = "system"

  group "node" {
    network {
      port "api" { static = 8100 }
    }

    service {
      name     = "boxlet-node"
      provider = "nomad"
      port     = "api"
      # The node tag, for the proxy's template.
      tags = ["tag=${node.unique.name}"]
      check {
        type     = "http"
        path     = "/v1/config"
        interval = "5s"
        timeout  = "2s"
      }
    }

    task "serve" {
      driver = "raw_exec"
      user   = "root"

      template {
        destination = "secrets/key"
        perms       = "0600"
        data        = "${var.api_key}"
      }

      # Peers: every registered node (each drops its own answer).
      template {
        destination = "local/peers"
        change_mode = "restart"
        data        = <<-PEERS
          {{- range $i, $s := nomadService "boxlet-node" }}{{ if $i }},{{ end }}{{ $s.Address }}:{{ $s.Port }}{{ end }}
        PEERS
      }

      config {
        command = "/bin/sh"
        # --node: the client's name, as a node name (a-z0-9-, 31 at most).
        args = ["-c", <<-CMD
          tag=$(printf '%s' "${node.unique.name}" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9-' '-' | cut -c1-31 | sed 's/^-*//; s/-*$//')
          peers=$(cat local/peers)
          exec boxlet serve --host ${NOMAD_IP_api} --port ${NOMAD_PORT_api} --node "$tag" \
            $${peers:+--peers "$peers"} --api-key-file secrets/key
        CMD
        ]
      }

      env {
        BOXLET_HOME = "/var/lib/boxlet"
      }

      # SIGTERM: attachments closed with 1001; boxes keep running.
      kill_timeout = "10s"
    }
  }
}
