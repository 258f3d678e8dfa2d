"""The workshop's manifests and step 5 patch, written as its text gives them, for the tests."""

STEP3_GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tls-passthrough-gateway
spec:
  gatewayClassName: tigera-gateway-class
  listeners:
    - name: http
      protocol: HTTP
      port: 80
"""

STEP4_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata:
  name: tls-passthrough
spec:
  parentRefs:
    - name: tls-passthrough-gateway
  hostnames:
    - "passthrough.example.com"
  rules:
    - backendRefs:
        - group: ""
          kind: Service
          name: passthrough-echoserver
          port: 443
          weight: 1
"""

# Step 5's --patch argument exactly as the shell passes it: the text between the single quotes,
# with its leading newline, its indentation and the spaces before the closing quote.
STEP5_PATCH = """
    - op: add
      path: /spec/listeners/-
      value:
        name: tls
        protocol: TLS
        hostname: passthrough.example.com
        port: 6443
        tls:
          mode: Passthrough
    """
