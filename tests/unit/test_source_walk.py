"""The walk the script-language closures share (slim.langs.walk): each file once, the first reason it was
reached by, depth-first for Node (its last pushed reason wins), files refused by `admit` left unseen."""

from __future__ import annotations

from slim.langs.walk import SourceWalk
from slim.results import LanguageRule, PartOfWholePackage, RequiredBy


def test_each_file_once_with_the_first_reason_it_was_reached_by():
    keep: dict = {}
    walk = SourceWalk(["/a.rb"], keep)
    order = []
    for path in walk:
        order.append(path)
        if path == "/a.rb":
            walk.queue += [("/b.rb", RequiredBy("/a.rb", 1)), ("/c.rb", RequiredBy("/a.rb", 2))]
        if path == "/b.rb":
            walk.queue += [("/c.rb", RequiredBy("/b.rb", 9)), ("/a.rb", RequiredBy("/b.rb", 3))]
    assert order == ["/a.rb", "/b.rb", "/c.rb"]
    assert keep == {"/b.rb": RequiredBy("/a.rb", 1), "/c.rb": RequiredBy("/a.rb", 2)}  # a start file needs none


def test_depth_first_takes_the_last_pushed_first():
    keep: dict = {}
    walk = SourceWalk(["/x.js", "/y.js"], keep, depth_first=True)
    order = []
    for path in walk:
        order.append(path)
        if path == "/y.js":
            walk.queue += [("/m/package.json", LanguageRule("manifest of /y.js")),
                           ("/m/package.json", RequiredBy("/y.js", 4))]
    assert order == ["/y.js", "/m/package.json", "/x.js"]
    assert keep["/m/package.json"] == RequiredBy("/y.js", 4)


def test_a_path_admit_refuses_is_neither_kept_nor_marked_seen():
    present = {"/lib/A.pm"}
    keep: dict = {}
    walk = SourceWalk(["/lib/A.pm", "/lib/B.pm"], keep, admit=lambda p: p in present)
    assert list(walk) == ["/lib/A.pm"] and walk.seen == {"/lib/A.pm"}
    present.add("/lib/B.pm")  # a later round may reach it again, once it is there
    walk.queue.append(("/lib/B.pm", RequiredBy("/lib/A.pm", 2)))
    assert list(walk) == ["/lib/B.pm"] and keep == {"/lib/B.pm": RequiredBy("/lib/A.pm", 2)}


def test_a_directory_kept_whole_is_queued_once():
    listed = []

    def files():
        listed.append(1)
        return ["/g/lib/g.rb", "/g/lib/g/x.rb"]

    keep: dict = {}
    walk = SourceWalk([], keep)
    walk.whole("/g/lib", "a name built at run time", files)
    walk.whole("/g/lib", "another", files)
    assert list(walk) == ["/g/lib/g.rb", "/g/lib/g/x.rb"] and listed == [1]
    assert set(keep.values()) == {PartOfWholePackage("/g/lib", "a name built at run time")}
