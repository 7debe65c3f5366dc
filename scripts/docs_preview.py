"""`make docs-preview`: the council's documents for three sample initiatives (a single author with the whole
dossier, three co-authors with it left out, a research topic), as Word files, rendered to PDF by LibreOffice
and to PNG pages by pdftoppm, in `build/docs-preview/` — to look at, not part of the tests.

Needs Debian's `libreoffice-writer-nogui` and `poppler-utils`.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from bot.config import load_config
from handlers.dossier import parse_people
from handlers.reports import forms
from storage.models import Attachment, Author, Branch, Initiative, Member, Status

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "docs-preview"
TODAY = dt.date(2022, 5, 3)


def samples() -> dict[str, Initiative]:
    branch = Branch(id=1, code="BVDK", name="CĐCS Bệnh viện Đa khoa tỉnh",
                    recognising_body="Hội đồng sáng kiến Sở Y tế tỉnh Phú Thọ")  # fmt: skip
    hoa = Member(id=1, full_name="Nguyễn Thị Hoa")
    lan = Member(id=2, full_name="Phạm Thị Lan")
    common = dict(branch=branch, status=Status.SUBMITTED, field="Y tế", first_applied_on=dt.date(2021, 10, 15),
                  problem="Người bệnh phải xếp hàng lấy số và điền phiếu khám bằng tay; mỗi sáng có 300–400 lượt, "
                          "chờ trung bình 45 phút.",
                  solution="Mỗi người bệnh nhận một mã QR khi đặt lịch; quầy tiếp đón quét mã, phiếu khám in sẵn. "
                           "Bước 1: đặt lịch qua Zalo. Bước 2: quét mã tại quầy. Bước 3: vào thẳng phòng khám.",
                  application_kind="applied", application_place="Khoa Khám bệnh, Bệnh viện Đa khoa tỉnh",
                  economic_benefit="Tiết kiệm giấy in và 2 biên chế tiếp đón.", economic_amount_vnd=150_000_000,
                  social_benefit="Người bệnh chờ ít hơn 30 phút, hài lòng hơn.")  # fmt: skip

    def author(name: str, share: int, **details: object) -> Author:
        return Author(full_name=name, share_percent=share, **details)

    single = Initiative(id=101, member=hoa, title="Số hoá phiếu khám bằng mã QR", type_code="1.2",
                        investor="Tác giả đồng thời là chủ đầu tư",
                        purpose="Rút ngắn thời gian chờ khám của người bệnh.",
                        applicability="Áp dụng được ở mọi bệnh viện tuyến tỉnh, tuyến huyện có phần mềm quản lý.",
                        conditions="Máy quét mã QR tại quầy tiếp đón.", confidential="Không có",
                        appliers_opinion="Khoa Khám bệnh: thời gian chờ giảm một nửa.",
                        appliers=parse_people("Lê Văn Tám; 01/02/1980; Khoa Khám bệnh; Bác sĩ; Đại học; Thử nghiệm\n"
                                              "Đỗ Thị Nga; Nhập dữ liệu"), **common)  # fmt: skip
    single.authors = [author("Nguyễn Thị Hoa", 100, workplace="Bệnh viện Đa khoa tỉnh Phú Thọ",
                             birth_date=dt.date(1985, 5, 12), job_title="Điều dưỡng trưởng", qualification="Thạc sĩ",
                             member_id=1)]  # fmt: skip
    single.attachments = [Attachment(kind="photo", purpose="evidence"),
                          Attachment(kind="document", file_name="quy-trinh.pdf", purpose="evidence")]  # fmt: skip
    group = Initiative(id=102, member=lan, title="Ngân hàng câu hỏi trực tuyến", type_code="1.2", **common)
    group.authors = [author("Phạm Thị Lan", 50, workplace="Trường THPT Việt Trì", member_id=2),
                     author("Trần Văn Bình", 30), author("Vũ Đức Minh", 20)]  # fmt: skip
    group.attachments = []
    topic = Initiative(id=103, member=lan, title="Nghiên cứu mô hình công đoàn số", type_code="1.7",
                       research_level="province", head_confirmed=True, recognition_kind="acceptance",
                       recognition_decision_no="45/QĐ-SKHCN", recognition_date=dt.date(2022, 2, 10),
                       **common)  # fmt: skip
    topic.authors = [author("Nguyễn Thị Hoa", 40), author("Phạm Thị Lan", 60, is_lead=True)]
    topic.attachments = []
    return {"mot-tac-gia": single, "ba-tac-gia": group, "de-tai-1-7": topic}


def main() -> int:
    if not shutil.which("soffice") or not shutil.which("pdftoppm"):
        print("needs LibreOffice and pdftoppm: apt-get install libreoffice-writer-nogui poppler-utils")
        return 1
    campaign = load_config(ROOT / "config.toml").campaign
    OUT.mkdir(parents=True, exist_ok=True)
    for name, initiative in samples().items():
        for kind, build in (("don", forms.request_form), ("mo-ta", forms.description)):
            path = OUT / f"{kind}-{name}.docx"
            path.write_bytes(build(initiative, campaign, TODAY))
            subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(OUT), str(path)],
                           check=True, capture_output=True, timeout=180)  # fmt: skip
            subprocess.run(["pdftoppm", "-png", "-r", "70", str(path.with_suffix(".pdf")), str(path.with_suffix(""))],
                           check=True, timeout=60)  # fmt: skip
            print(f"{path.with_suffix('.pdf').relative_to(ROOT)}: "
                  f"{len(list(OUT.glob(path.stem + '-*.png')))} page(s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
