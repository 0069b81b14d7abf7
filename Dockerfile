# Small, non-root image of openoms-allegro: `docker build -t openoms-allegro .`
# The same image runs the service (`run`, the default), `status`, `auth login`, `backfill`
# and the Allegro simulator (`sandbox serve`); see docker-compose.yml.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
# Every dependency at the version CI tested (constraints.txt, the same pins `make` installs).
RUN pip install --no-cache-dir --prefix=/install -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/openoms-allegro --create-home openoms
COPY --from=build /install /usr/local
WORKDIR /
VOLUME ["/var/openoms-allegro"]
USER openoms
# Health, readiness and metrics listen on every interface of the container (the service's
# own default is loopback), so that published ports and orchestrators' probes reach them.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HTTP_HOST=0.0.0.0 HTTP_PORT=8080
# The state (cursor, order records, encrypted tokens) on the volume above, named in full:
# outside a container the default follows the user's home (XDG), which is not a volume here.
ENV STATE_URL=sqlite:////var/openoms-allegro/state.db
EXPOSE 8080
# Liveness only (/healthz); orchestrators should use /readyz for readiness.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
ENTRYPOINT ["openoms-allegro"]
CMD ["run"]
