"""Imports every model so that SQLAlchemy and Alembic see the whole schema."""

from app.audit.models import AuditChainHead, AuditRecord  # noqa: F401
from app.auth.models import Organisation, User  # noqa: F401
from app.cases.models import Case, CaseCode, Code, Event, Person  # noqa: F401
from app.evidence.models import CustodyRecord, Exhibit, OcrJob  # noqa: F401
from app.deadlines.models import CaseDeadline, DigestSend, NotifiedDeadline  # noqa: F401
from app.search.models import IndexOutbox  # noqa: F401
from app.coalitions.models import Coalition, CoalitionMember, OrgPublication  # noqa: F401
from app.jobs.models import Job, JobFile  # noqa: F401
