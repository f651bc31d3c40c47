"""What Concilia's trained graph components share: the config merged with the defaults, the model kept
in Rasa's model storage, and a component that loads with no model (none trained yet) passing messages on
unchanged. A subclass names its model class (``fit``/``save``/``load(folder, config)``) and trains it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

log = logging.getLogger(__name__)


class StoredModel(Protocol):
    def save(self, folder: Path) -> None: ...


class StoredModelComponent(GraphComponent):
    """A graph component whose trained model lives in Rasa's model storage."""

    model_class: Any  # the model's class: its ``load(folder, config)`` reads what ``save`` wrote

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> StoredModelComponent:
        return cls(config, model_storage, resource)

    def _store(self, model: StoredModel) -> Resource:
        """Keep ``model`` for this run and in the model storage."""
        self.model = model
        with self._model_storage.write_to(self._resource) as folder:
            model.save(folder)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> StoredModelComponent:
        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as folder:
                model = cls.model_class.load(folder, merged)
        except (ValueError, FileNotFoundError):
            log.warning("%s: no trained model in %s, messages pass unchanged", cls.__name__, resource.name)
            model = None
        return cls(config, model_storage, resource, model)
