"""Background jobs: one typed definition per operation (`kinds`), the runner that starts and
follows them in the process that owns the project (`runner`), and the one protocol every worker
process speaks (`worker`)."""

from .kinds import OPERATIONS
from .operation import Operation, ParamError
from .runner import JobContext, JobError, Progress, cancel_job, operation, run_job, start_job

__all__ = ["OPERATIONS", "JobContext", "JobError", "Operation", "ParamError", "Progress", "cancel_job", "operation", "run_job", "start_job"]
