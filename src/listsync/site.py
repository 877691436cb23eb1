"""A site as loaded: its config, its valid list files and the template texts they use.

Owns the values that load.py produces and the rest of listsync reads
(policy, reconcile, the catalogue): `Site` and `ListFile`. It imports no
module that reads them, so that every one of those may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from listsync import yamlfile
from listsync.mailman_templates import TemplateText
from listsync.models import EffectiveList, ListSpec, SiteConfig, effective
from listsync.yamlfile import Loc


@dataclass(frozen=True, slots=True)
class ListFile:
    """One loaded, valid list file; its round-trip document is parsed on first use."""

    name: str
    path: str
    spec: ListSpec
    text: str
    _document: list[CommentedMap] = field(default_factory=list, repr=False, compare=False)

    @property
    def document(self) -> CommentedMap:
        if not self._document:
            self._document.append(YAML(typ="rt", pure=True).load(self.text))
        return self._document[0]

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        return yamlfile.position(self.document, loc, key=key)


@dataclass(frozen=True, slots=True)
class Site:
    """A site (one domain of it, on a site with several) as declared on disk: its config
    and its valid list files by name."""

    root: Path
    config: SiteConfig
    lists: dict[str, ListFile]
    templates: dict[str, TemplateText] = field(default_factory=dict)  # by path, every one used
    _effective: dict[str, EffectiveList] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def lists_dir(self) -> str:
        """Where its list files are: lists/, or lists/DOMAIN/ (`SiteConfig.lists_dir`)."""
        return self.config.lists_dir

    @property
    def domain(self) -> str:
        return self.config.domain

    def effective(self, name: str) -> EffectiveList:
        """The list with the site's defaults applied; made once (a plan asks several times)."""
        found = self._effective.get(name)
        if found is None:
            found = self._effective[name] = effective(name, self.lists[name].spec, self.config)
        return found

    def template_urls(self) -> dict[str, str]:
        """Path -> published URL of every template text the site uses."""
        base = self.config.templates_url
        if base is None:
            return {}
        return {path: text.url(base) for path, text in self.templates.items()}

    def effective_lists(self) -> list[EffectiveList]:
        return [self.effective(name) for name in sorted(self.lists)]
