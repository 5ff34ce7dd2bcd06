# Multi-stage: compile the kernels into a wheel with a compiler, run from a slim image without one.
# No -march=native: the image must run on hosts other than the one that built it.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY src ./src
RUN pip install --no-cache-dir "cython>=3.3" setuptools wheel \
    && pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
ENV OPENBLAS_NUM_THREADS=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home tradecore
USER tradecore
# Verify the bundled recordings by default; override with any tradecore subcommand.
ENTRYPOINT ["tradecore"]
CMD ["demo"]
