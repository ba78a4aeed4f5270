"""Several pushes as one, for a wall screen: each element's latest fragment, in order."""

from __future__ import annotations

from dashboard.coalesce import coalesce, top_level

ADD_RINGING = (
    '<div hx-swap-oob="afterbegin:#live-calls">'
    '<article id="call-1" class="call is-ringing"><svg class="icon"><use href="#in"></use></svg>'
    '<input id="tx-1"><span>ringing</span></article></div>'
)
TALKING = (
    '<article id="call-1" class="call is-connected" hx-swap-oob="true">'
    "<span>talking</span></article>"
)
REMOVED = '<div id="call-1" hx-swap-oob="delete"></div>'


def counters(live: int) -> str:
    return f'<section id="counters" class="counters" hx-swap-oob="true"><b>{live}</b></section>'


def tile(state: str) -> str:
    return (
        f'<article id="ext-41" class="tile is-{state}" hx-swap-oob="true"><p>{state}</p></article>'
    )


def test_markup_splits_into_its_top_level_elements_void_ones_and_all() -> None:
    markup = f"{ADD_RINGING}\n  {counters(1)}<br><!-- <p>not one</p> -->{tile('idle')}"
    assert top_level(markup) == [ADD_RINGING, counters(1), "<br>", tile("idle")]


def test_the_latest_fragment_of_each_element_wins_in_the_order_of_its_latest_arrival() -> None:
    messages = [
        counters(1) + tile("ringing"),
        counters(2),
        tile("talking") + counters(3),
    ]
    assert coalesce(messages) == tile("talking") + counters(3)


def test_a_row_added_then_changed_is_added_as_it_is_now() -> None:
    added_talking = (
        '<div hx-swap-oob="afterbegin:#live-calls">'
        '<article id="call-1" class="call is-connected"><span>talking</span></article></div>'
    )
    assert coalesce([ADD_RINGING + counters(1), TALKING + counters(1)]) == (
        added_talking + counters(1)
    )


def test_a_removal_is_kept_even_of_a_row_added_meanwhile() -> None:
    assert coalesce([TALKING, counters(0) + REMOVED]) == counters(0) + REMOVED
    assert coalesce([ADD_RINGING, TALKING, REMOVED]) == REMOVED


def test_a_whole_list_then_a_row_of_it_keeps_that_order() -> None:
    whole = '<div id="live-calls" hx-swap-oob="true"><article id="call-1"></article></div>'
    assert coalesce([TALKING, whole, TALKING]) == whole + TALKING
    assert coalesce([TALKING, whole]) == TALKING + whole  # applied in turn: the list wins


def test_fragments_without_an_id_are_all_kept_in_order() -> None:
    toast = '<div hx-swap-oob="afterbegin:#toasts"><p>one</p><p>two</p></div>'
    assert coalesce([toast, counters(1), toast]) == toast + counters(1) + toast
