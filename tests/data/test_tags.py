"""Reading a release's tags.csv."""

from __future__ import annotations

from recsys_utils.constants import raw_dir
from recsys_utils.data import tags


def test_load_tags_reads_the_raw_folder(data_home):
    folder = raw_dir() / "ml-latest-small" / "ml-latest-small"
    folder.mkdir(parents=True)
    assert tags.load_tags("ml-latest-small") is None
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n2,60756,funny,1\n2,1,NA,2\n")
    table = tags.load_tags("ml-latest-small")
    assert table.to_dict("list") == {
        "user_id": [2, 2],
        "item_id": [60756, 1],
        "tag": ["funny", "NA"],
    }
    assert str(table["user_id"].dtype) == "int32"
