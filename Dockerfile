# Feedback Loop in HTTP mode. Two stages: the first builds the wheel, the second installs
# only that wheel (and the PostgreSQL driver) on a slim base, so no source tree, compiler
# or test dependency ships in the image.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/feedback_loop-*.whl)[postgres]" \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 feedbackloop
# Never root: the app needs no privilege, and a compromised process should not get one.
USER feedbackloop
WORKDIR /home/feedbackloop
EXPOSE 3000
# The slim image has no curl; Python is there anyway.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
CMD ["feedback-loop", "run", "--http"]
