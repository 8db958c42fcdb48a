"""Every error Herald's core library raises on purpose.

    HeraldError
    ├── ConfigError           the project or its environment is set up wrongly
    ├── ImportFileError       a file to import cannot be read as a whole (nothing was written)
    ├── LandingError          a batch could not be landed
    ├── BuildError            dbt failed; nothing was published
    ├── WarehouseNotReady     no published warehouse yet (run a build first)
    ├── ExportError           an export names an unknown table or audience, or cannot be written
    ├── AudienceError         an audience cannot be compiled or found
    │   ├── AudienceSpecError     the spec is invalid (names the condition at fault and why)
    │   └── AudienceNotFound      no audience of that name
    ├── TemplateError         a message template cannot be loaded or rendered (names template, line, recipient)
    └── CampaignError         a plan, typology or delivery run is invalid or cannot be prepared
        ├── PlanError             a plan or typology file is invalid (names the spot and why)
        ├── DeliveryNotFound      no delivery of that id in the plans
        └── ControlRuleFailed     a control rule blocks the delivery (names the rule and why)

The CLI turns each into one clear line on stderr and a non-zero exit code.
"""

from __future__ import annotations


class HeraldError(Exception):
    """Base class of every error Herald raises on purpose."""

    exit_code = 1


class ConfigError(HeraldError):
    """The project or its environment is set up wrongly."""


class ImportFileError(HeraldError):
    """A file cannot be read as a whole; the import changed nothing."""

    exit_code = 2


class LandingError(HeraldError):
    """A batch could not be written to the landing zone."""


class BuildError(HeraldError):
    """The dbt build failed; the published warehouse was left as it was."""


class WarehouseNotReady(HeraldError):
    """There is no published warehouse to read yet."""


class ExportError(HeraldError):
    """An export names something that does not exist, or its output cannot be written."""


class AudienceError(HeraldError):
    """An audience cannot be compiled, found or built."""


class AudienceSpecError(AudienceError):
    """An audience spec is invalid; the message names the condition at fault and why."""

    exit_code = 2


class AudienceNotFound(AudienceError):
    """No audience has that name."""


class CampaignError(HeraldError):
    """A plan, typology or delivery run is invalid or cannot be prepared."""


class PlanError(CampaignError):
    """A plan or typology file is invalid; the message names the spot at fault and why."""

    exit_code = 2


class DeliveryNotFound(CampaignError):
    """No delivery has that id in the plans."""


class ControlRuleFailed(CampaignError):
    """A control rule blocks the delivery; the message names each failing rule and why."""


class TemplateError(HeraldError):
    """A template cannot be loaded or rendered; the message names the template, part, line and recipient."""
