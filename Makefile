# Constat: the two set-up commands (shared/contract.md). Everything else is in the README.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test lint bench ocr-engine office-engine serve migrate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# OCR engine: installed through apt when running as root; otherwise one line says how.
ocr-engine:
	@if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx fra; then \
		true; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installation de Tesseract (OCR français)…"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-fra >/dev/null) \
		|| echo "Tesseract n'a pas pu être installé : l'application fonctionne sans OCR."; \
	else \
		echo "OCR indisponible : installez-le avec « sudo apt-get install tesseract-ocr tesseract-ocr-fra » ; l'application fonctionne sans."; \
	fi

# LibreOffice converts the Télérecours inventory and text pièces to PDF; without it they stay
# .docx or are refused with their reason, and everything else works.
office-engine:
	@if command -v soffice >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installation de LibreOffice (conversion PDF du paquet Télérecours)…"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-writer-nogui >/dev/null) \
		|| echo "LibreOffice n'a pas pu être installé : l'inventaire Télérecours restera en .docx."; \
	else \
		echo "LibreOffice absent : « sudo apt-get install libreoffice-writer-nogui » pour un inventaire Télérecours en PDF ; l'application fonctionne sans."; \
	fi

migrate: $(VENV)/.runtime
	$(BIN)/flask db upgrade

run: $(VENV)/.runtime ocr-engine office-engine migrate
	$(BIN)/flask demo seed
	@echo "Constat : http://127.0.0.1:$(PORT)"
	$(BIN)/gunicorn --workers 2 --threads 4 --timeout 120 --bind 127.0.0.1:$(PORT) --access-logfile - \
		--access-logformat '%(t)s "%(m)s %(U)s" %(s)s %(L)ss' \
		--logger-class app.deadlines.access_log.Logger wsgi:app

test: $(VENV)/.dev
	$(BIN)/ruff check app tests bench
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check app tests bench

# Benchmarks (not tests): each prints its figures and its same-run baseline.
bench: $(VENV)/.dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
