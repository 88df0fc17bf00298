"""Maps the project's top-level folders onto one import namespace, ``homecare.*``."""

from setuptools import find_packages, setup

FOLDERS = {
    "homecare.contracts": "firmware-contracts",
    "homecare.gateway": "gateway",
    "homecare.backend": "backend",
    "homecare.sim": "device-sim",
    "homecare.web": "web",
}

packages = []
for package, folder in FOLDERS.items():
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=FOLDERS)
