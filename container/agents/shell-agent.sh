#!/bin/sh
# An example agent in plain shell: asks the metadata server directly, as curl-based
# tooling does. In assign mode it gets the agent's token; in block mode, no identity.
MD=http://169.254.169.254/computeMetadata/v1
H='Metadata-Flavor: Google'
echo "shell-agent: running as $(id -un) (uid $(id -u))"
echo "shell-agent: project $(curl -s -H "$H" "$MD/project/project-id")"
code=$(curl -s -o /tmp/token.json -w '%{http_code}' -H "$H" "$MD/instance/service-accounts/default/token")
if [ "$code" = 200 ]; then
  echo "shell-agent: got an access token for $(curl -s -H "$H" "$MD/instance/service-accounts/default/email")"
else
  echo "shell-agent: no identity (HTTP $code)"
fi
rm -f /tmp/token.json
exec sleep "${DEMO_SLEEP:-infinity}"
