"""Typed errors users can catch. Messages keep the server's reason and never carry the API key."""

from __future__ import annotations

from airflow.exceptions import AirflowException


class GeminiBatchError(AirflowException):
    """Base class of every error this provider raises."""


# ---- configuration and auth -------------------------------------------------------------
class GeminiConnectionError(GeminiBatchError):
    """The connection is missing or incomplete (no key), named by its id."""


class GeminiAuthError(GeminiBatchError):
    """The server refused the API key (400 API_KEY_INVALID, 401, 403)."""


class GeminiUnreachableError(GeminiBatchError):
    """The base URL could not be reached at all."""


# ---- requests ---------------------------------------------------------------------------
class GeminiRequestError(GeminiBatchError):
    """Bad input found before any billable call. `location` names the line, key or field."""

    def __init__(self, message: str, location: str | None = None):
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class GeminiModelError(GeminiRequestError):
    """Unknown model, or a generate request sent to an embeddings model (or the other way)."""


class GeminiBatchTooLargeError(GeminiRequestError):
    """Over the 20 MB inline limit with no way to go as a file, or a file over 2 GB."""


# ---- API calls ------------------------------------------------------------------------------
class GeminiApiError(GeminiBatchError):
    """The API answered with an error. Keeps the HTTP code, the status and the server's message."""

    def __init__(self, message: str, code: int | None = None, status: str | None = None,
                 retry_after: float | None = None):
        self.code = code
        self.status = status
        self.status_code = code  # type: ignore[assignment]  # the HTTP code, under the name common-ai's adapters read
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After / RetryInfo)
        super().__init__(message)


class GeminiInvalidRequestError(GeminiApiError):
    """400 INVALID_ARGUMENT / FAILED_PRECONDITION from the server."""


class GeminiNotFoundError(GeminiApiError):
    """404: the job, file or model does not exist (or was deleted)."""


class GeminiTransientError(GeminiApiError):
    """429 / 5xx / timeouts / dropped connections, still failing after the retry budget."""


class GeminiMalformedReplyError(GeminiTransientError):
    """A 200 whose body is not the JSON object the call returns (an HTML proxy page, a JSON list,
    truncated JSON). Transient: the next try usually gets the real answer. Names the call and URL."""


class GeminiRedirectError(GeminiApiError):
    """The server answered with a redirect to another origin; it was not followed, so the API key
    stayed with its host."""


class GeminiWaitError(GeminiBatchError):
    """Waiting for a job ended without a usable state (auth, not found, polls failing past the
    tolerance, an unknown state reported done)."""


class GeminiEventError(GeminiBatchError):
    """The trigger's event is missing or does not match the versioned contract execute_complete expects."""


class GeminiSubmitTimeoutError(GeminiBatchError):
    """Creating the job was refused for quota (429 RESOURCE_EXHAUSTED) until submit_timeout ran out."""


class GeminiSubmissionGoneError(GeminiBatchError):
    """This task instance's job completed on an earlier try and has since been deleted: its results
    cannot be delivered again, and nothing new is billed unless resubmit=True says so."""


# ---- job outcomes ------------------------------------------------------------------------------
class GeminiJobError(GeminiBatchError):
    """A job ended in a state the task must not treat as success."""

    def __init__(self, message: str, job_name: str | None = None, state: str | None = None):
        self.job_name = job_name
        self.state = state
        super().__init__(message)


class GeminiJobFailedError(GeminiJobError):
    pass


class GeminiJobExpiredError(GeminiJobError):
    pass


class GeminiJobCancelledError(GeminiJobError):
    pass


class GeminiJobTimeoutError(GeminiJobError):
    """Our own deadline passed before the job finished."""


class GeminiJobStuckPendingError(GeminiJobError):
    """The job stayed PENDING past max_pending_time (after the one deliberate resubmission)."""


class GeminiPartialFailureError(GeminiJobError):
    """More per-request failures than the task's threshold allows."""


# ---- results ------------------------------------------------------------------------------------
class GeminiResultsError(GeminiJobError):
    """The results of a finished job could not be delivered whole. `path` names where they were going."""

    def __init__(self, message: str, job_name: str | None = None, state: str | None = None,
                 path: str | None = None):
        self.path = path
        super().__init__(message, job_name=job_name, state=state)


class GeminiResultsWriteError(GeminiResultsError):
    """Writing results_path failed (disk full, permission, read-only, file size limit); the previous
    content is untouched. `errno_code` keeps the OS error number."""

    def __init__(self, message: str, job_name: str | None = None, path: str | None = None,
                 errno_code: int | None = None):
        self.errno_code = errno_code
        super().__init__(message, job_name=job_name, path=path)


class GeminiResultsIncompleteError(GeminiResultsError):
    """The job says it finished but what could be downloaded is not its result set (no records at all,
    or a download that stayed short of the file's size after the retries)."""


# ---- media --------------------------------------------------------------------------------------
class GeminiMediaError(GeminiRequestError):
    """A media input refused before anything billable: unreadable, unsupported or undetectable MIME type,
    over its per-file limit. ``path`` names the file."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message, location=path)
