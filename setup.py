"""GravityViT: multi-view Vision Transformer for LIGO glitch classification (Gravity Spy)."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

README = Path(__file__).with_name("README.md")
MODEL_CARD_TEMPLATE = "MODEL_CARD.md"


class BuildPyWithModelCard(build_py):
    """Ship the top-level MODEL_CARD.md template inside the built package, where the model-card
    renderer looks first (an editable install reads it from the repository instead)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install imports the sources, beside which the template already is
        target = Path(self.build_lib) / "gravityvit"
        self.mkpath(str(target))
        self.copy_file(MODEL_CARD_TEMPLATE, str(target / MODEL_CARD_TEMPLATE))


INSTALL_REQUIRES = [
    "torch>=2.4",
    "torchvision>=0.19",
    "timm>=1.0.15",
    "transformers>=5.0,<6",
    "datasets>=4.0",
    "accelerate>=1.0",
    "evaluate>=0.4.3",
    "h5py>=3.10",
    "safetensors>=0.4",
    "huggingface_hub>=1.0",
    "numpy>=1.26",
    "pillow>=10.0",
    "scikit-learn>=1.4",
    "matplotlib>=3.8",
    "tqdm>=4.66",
    "pyyaml>=6.0",
    "jinja2>=3.1",
]

EXTRAS_REQUIRE = {
    "gw": ["gwpy>=4.1", "scipy>=1.11"],
    # ONNX export (gravityvit export-onnx) and ONNX Runtime inference (gravityvit predict --backend onnx).
    "onnx": ["onnx>=1.16", "onnxruntime>=1.18"],
    "dev": ["pytest>=8.0", "pytest-xdist>=3.5", "ruff==0.17.6", "pre-commit>=3.5", "olah>=0.5"],
    # Experiment tracking (--report_to mlflow,tensorboard). mlflow-skinny is MLflow's client without its
    # server: the full package adds Flask, gunicorn and a Docker client and caps pyarrow below 26, which
    # would downgrade the pyarrow that datasets installs. SQLAlchemy and alembic give the client MLflow 3's
    # default local store (sqlite:///mlflow.db). The UI is the full `mlflow`, see docs/training.md.
    "tracking": ["mlflow-skinny>=3.0,<4", "sqlalchemy>=2.0", "alembic>=1.12", "tensorboard>=2.15"],
}
EXTRAS_REQUIRE["all"] = sorted({req for reqs in EXTRAS_REQUIRE.values() for req in reqs})

setup(
    name="gravityvit",
    version="0.1.0",
    description="Multi-view Vision Transformer for LIGO glitch classification (Gravity Spy)",
    long_description=README.read_text(encoding="utf-8") if README.exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["gravityvit", "gravityvit.*"]),
    package_data={"gravityvit": ["py.typed", "training/glitch_metrics/*.py"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["gravityvit=gravityvit.cli:main"]},
    cmdclass={"build_py": BuildPyWithModelCard},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Astronomy",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
