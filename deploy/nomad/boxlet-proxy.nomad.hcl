# HAProxy in front of the boxlet nodes of boxlet-node.nomad.hcl (docs/scale.md,
# "Nomad"). Not validated: Debian has no nomad package, so neither
# `nomad job validate` nor a live cluster has run this file. The
# configuration is rendered from Nomad's service catalog with
# deploy/haproxy/gen-haproxy.sh's rules: one backend per node, named by its
# node tag, and the map from tag to backend.

job "boxlet-proxy" {
  type = "service"

  group "proxy" {
    count = 2

    network {
      port "api" { static = 8100 }
    }

    service {
      name     = "boxlet"
      provider = "nomad"
      port     = "api"
    }

    task "haproxy" {
      driver = "docker"

      config {
        image        = "haproxy:2.6"
        network_mode = "host"
        args         = ["-f", "/local/haproxy.cfg", "-db"]
      }

      # The node tags and addresses from the catalog; HAProxy is reloaded
      # when nodes come or go. The rules are gen-haproxy.sh's.
      template {
        destination = "local/boxlet-nodes.map"
        change_mode = "restart"
        data        = <<-MAP
          {{- range nomadService "boxlet-node" }}{{ range .Tags }}{{ if . | regexMatch "^tag=" }}{{ . | trimPrefix "tag=" | toLower }} node_{{ . | trimPrefix "tag=" | toLower }}
          {{ end }}{{ end }}{{ end }}
        MAP
      }

      template {
        destination = "local/haproxy.cfg"
        change_mode = "restart"
        data        = <<-CFG
          defaults
              mode http
              timeout connect 500ms
              retries 1
              timeout client 120s
              timeout server 600s
              timeout http-request 30s
              timeout tunnel 1h
              http-error status 503 content-type application/json string '{"error":{"message":"the node that holds this box is not reachable","type":"UpstreamUnavailableError","code":"upstream_unavailable"}}'
          frontend boxlet
              bind :8100
              http-request set-var(txn.node) path,url_dec,regsub(^.*/boxes/,),word(1,/),word(1,_),map_str(/local/boxlet-nodes.map) if { path,url_dec -m reg /boxes/[a-z0-9-]+_[0-9A-Z]{26}(/|$) }
              use_backend %[var(txn.node)] if { var(txn.node) -m found }
              default_backend any_node
          backend any_node
              balance leastconn
              option redispatch
              retry-on conn-failure empty-response 503
              option httpchk GET /v1/config
              http-check expect rstring "draining\":false"
          {{- range nomadService "boxlet-node" }}
              server {{ .Address | replaceAll "." "-" }} {{ .Address }}:{{ .Port }} check inter 1s fall 2 rise 1
          {{- end }}
          {{ range nomadService "boxlet-node" }}{{ range .Tags }}{{ if . | regexMatch "^tag=" }}
          backend node_{{ . | trimPrefix "tag=" | toLower }}
              retries 0
              option httpchk GET /v1/config
          {{ end }}{{ end }}    server n {{ .Address }}:{{ .Port }} check inter 1s fall 2 rise 1
          {{ end }}
        CFG
      }
    }
  }
}
