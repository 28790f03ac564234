# RecurrentGPT studio. CPU image by default:
#   docker build -t recurrentgpt .
#   docker run -p 7860:7860 -v recurrentgpt-data:/data \
#       -e RECURRENTGPT_AUTH=writer:change-me -e OPENAI_API_KEY=sk-... recurrentgpt
# GPU variant (local RWKV-7 model with Triton kernels; README, "Docker"):
#   docker build -t recurrentgpt:gpu \
#       --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 --build-arg EXTRAS=postgres,gpu .
#   docker run --gpus all ... -e RECURRENTGPT_BACKEND=local -e RECURRENTGPT_DEVICE=cuda recurrentgpt:gpu
FROM python:3.11-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG EXTRAS=postgres

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, from the chosen index, so the project's `torch>=2.4` is already
# met and pip never pulls the multi-GB CUDA build into the CPU image.
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

WORKDIR /opt/recurrentgpt
COPY pyproject.toml README.md ./
COPY app ./app
COPY recurrentgpt ./recurrentgpt
COPY memory ./memory
COPY local_model ./local_model
RUN pip install ".[${EXTRAS}]"

# An unprivileged user; the data home (SQLite database, story folders with
# their memory files, vector indexes, downloaded models) lives on a volume.
RUN useradd --create-home --uid 1000 writer && mkdir -p /data && chown writer:writer /data
USER writer
ENV RECURRENTGPT_HOME=/data \
    HF_HOME=/data/huggingface \
    GRADIO_ANALYTICS_ENABLED=False
VOLUME ["/data"]
EXPOSE 7860

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"

# Off loopback the studio refuses to start without a password: set
# RECURRENTGPT_AUTH=user:password (the studio reads it from the environment).
CMD ["recurrentgpt", "ui", "--host", "0.0.0.0", "--port", "7860"]
