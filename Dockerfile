# The portal's image: web (gunicorn), worker and beat (Celery) all run from it; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 apn \
    && useradd --system --uid 10001 --gid apn --home-dir /app --no-create-home --shell /usr/sbin/nologin apn

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Static files are collected into the image and served by whitenoise; media and beat's schedule are volumes.
RUN python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/var \
    && chown apn:apn /app/media /app/var

USER apn
EXPOSE 8000
# gunicorn also reads gunicorn.conf.py: its timeout is WEB_REQUEST_TIMEOUT_SECONDS, as the app's is.
CMD ["gunicorn", "apn_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
