#!/usr/bin/env bash
# Installs what the tests need beyond Go, on a Debian machine (as root, or with the packages
# already there): the end-to-end tests drive the server with the Python and JavaScript
# Kubernetes clients. Debian's python3-kubernetes is seen by Debian's /usr/bin/python3;
# @kubernetes/client-node is pinned in test/e2e/testdata/clients/js/package-lock.json and needs
# Node 20.16 or later (Debian 12's own nodejs is 18). promtool lints the /metrics the tests
# scrape: only that binary is taken out of Debian's prometheus package (no server, no service),
# which takes seconds where building it with go install takes many minutes. helm (v4, which
# writes with server-side apply) is built from its module into GOPATH/bin, at the pinned version;
# that build takes a few minutes on two cores, once. Only what is missing is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || missing+=(python3-kubernetes)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
updated=false
if ((${#missing[@]} > 0)); then
	apt-get update
	updated=true
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
if ! command -v promtool >/dev/null; then
	$updated || apt-get update
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download prometheus && dpkg-deb -x prometheus_*.deb x)
	install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
	rm -rf "$tmp"
fi
if [[ ! -d test/e2e/testdata/clients/js/node_modules/@kubernetes/client-node ]]; then
	(cd test/e2e/testdata/clients/js && npm ci --no-audit --no-fund)
fi

helm_version=v4.3.2
helm="$(go env GOPATH)/bin/helm"
if ! go version -m "$helm" 2>/dev/null | grep -qE "^\s+mod\s+helm.sh/helm/v4\s+${helm_version}\s"; then
	GOBIN="$(go env GOPATH)/bin" go install "helm.sh/helm/v4/cmd/helm@${helm_version}"
fi
