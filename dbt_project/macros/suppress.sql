{#-
    Small-number suppression for published cells (IG.md promise 3), the ONE place it is implemented.
    Method and proof sketch: docs/disclosure-control.md.

    suppress_blocks(cells, measures) returns every column of the relation `cells` plus
      <measure>_is_suppressed   the cell is '*' for that measure
    and published_<measure> (text: '*' when suppressed, else the count rounded to the nearest 5) per measure.

    `cells` has one row per published position below national level, with:
      block_table    one table of cells whose columns add up to a published total per row (e.g. a quarter's
                     management options) and whose rows add up to an exact England figure per column
      block_row      the area (row) and block_col the breakdown value (column) of the cell
      parent_table   the table holding this row's total (null for a top-level total), parent_col its column
      the measures   counts (zeros included; every position of the grid present)

    A table with a count of 1-7 (primary) in measure m gets a block R x C: R = its rows with a primary, C = its
    columns with one; if C has one column, the column with the smallest positive count over R is added; if R has
    one row, the row with the smallest positive count over C; if R or C is still a single row or column, the
    smallest positive cell outside both is added to both. Every cell of R x C is '*', zeros included. Each row and
    each column of the block then holds a non-zero count and the block is at least 2 x 2 (or a single column with
    at least 2 rows), so for every '*' a reader can move one unit round a rectangle of '*' cells (or between two
    '*' totals) and keep every published row total, column total, zero and England figure: no '*' has one value.
    A '*' row total (e.g. an ICB's `all`) also stars that row's cells in each column whose count over the
    '*'-total rows is positive (two levels deep), so a unit can move between two such rows through their totals.
    Measures after the first are part of it (new in quarter <= in place): they are also '*' wherever the first is,
    and shown as 0 where the first is a published 0. A '*' zero that could only be zero (its column's '*' cells
    are all zero, its row total is a published 0, or the later measure equals it nationally and is 0 in that row)
    is shown as 0. The attack in tests/test_disclosure.py checks all of this on generated nights.
-#}
{% macro suppress_blocks(cells, measures) -%}
    with cells_in as (
        select * from {{ cells }}
    ),

    long as (
        select
            ci.block_table as t,
            ci.block_row as r,
            ci.block_col as c,
            ci.parent_table as pt,
            ci.parent_col as pc,
            u.m,
            coalesce(u.v, 0) as v
        from cells_in as ci
        cross join lateral (
            values {% for m in measures %}('{{ m }}', ci.{{ m }}::bigint){{ ', ' if not loop.last }}{% endfor %}
        ) as u (m, v)
    ),

    r0 as (
        select distinct t, m, r from long where v between 1 and 7
    ),

    c0 as (
        select distinct t, m, c from long where v between 1 and 7
    ),

    c0_sizes as (
        select t, m, count(*) as n_c from c0 group by t, m
    ),

    c_added as (
        select distinct on (l.t, l.m)
            l.t,
            l.m,
            l.c
        from long as l
        inner join r0 on l.t = r0.t and l.m = r0.m and l.r = r0.r
        inner join c0_sizes as s on l.t = s.t and l.m = s.m and s.n_c = 1
        where not exists (select 1 from c0 where c0.t = l.t and c0.m = l.m and c0.c = l.c)
        group by l.t, l.m, l.c
        having sum(l.v) > 0
        order by l.t, l.m, sum(l.v), l.c
    ),

    c1 as (
        select t, m, c from c0
        union
        select t, m, c from c_added
    ),

    r0_sizes as (
        select t, m, count(*) as n_r from r0 group by t, m
    ),

    r_added as (
        select distinct on (l.t, l.m)
            l.t,
            l.m,
            l.r
        from long as l
        inner join c1 on l.t = c1.t and l.m = c1.m and l.c = c1.c
        inner join r0_sizes as s on l.t = s.t and l.m = s.m and s.n_r = 1
        where not exists (select 1 from r0 where r0.t = l.t and r0.m = l.m and r0.r = l.r)
        group by l.t, l.m, l.r
        having sum(l.v) > 0
        order by l.t, l.m, sum(l.v), l.r
    ),

    r1 as (
        select t, m, r from r0
        union
        select t, m, r from r_added
    ),

    sizes1 as (
        select
            rs.t,
            rs.m,
            rs.n_r,
            cs.n_c
        from (select t, m, count(*) as n_r from r1 group by t, m) as rs
        inner join (select t, m, count(*) as n_c from c1 group by t, m) as cs on rs.t = cs.t and rs.m = cs.m
    ),

    cell_added as (
        select distinct on (l.t, l.m)
            l.t,
            l.m,
            l.r,
            l.c
        from long as l
        inner join sizes1 as s on l.t = s.t and l.m = s.m and (s.n_r < 2 or s.n_c < 2)
        where
            l.v >= 1
            and not exists (select 1 from r1 where r1.t = l.t and r1.m = l.m and r1.r = l.r)
            and not exists (select 1 from c1 where c1.t = l.t and c1.m = l.m and c1.c = l.c)
        order by l.t, l.m, l.v, l.r, l.c
    ),

    block_rows as (
        select t, m, r from r1
        union
        select t, m, r from cell_added
    ),

    block_cols as (
        select t, m, c from c1
        union
        select t, m, c from cell_added
    ),

    starred_blocks as (
        select distinct
            br.t,
            br.m,
            br.r,
            bc.c
        from block_rows as br
        inner join block_cols as bc on br.t = bc.t and br.m = bc.m
    ),

    {%- for level in [1, 2] %}
        {%- set before = 'starred_blocks' if level == 1 else 'starred_1' %}

        under_starred_{{ level }} as (
            select l.*
            from long as l
            inner join {{ before }} as s on l.pt = s.t and l.m = s.m and l.r = s.r and l.pc = s.c
        ),

        live_cols_{{ level }} as (
            select t, m, c from under_starred_{{ level }} group by t, m, c having sum(v) > 0
        ),

        starred_{{ level }} as (
            select t, m, r, c from {{ before }}
            union
            select u.t, u.m, u.r, u.c
            from under_starred_{{ level }} as u
            inner join live_cols_{{ level }} as lc on u.t = lc.t and u.m = lc.m and u.c = lc.c
        ),
    {%- endfor %}

    -- A later measure is part of the first (new in quarter <= in place): it is '*' wherever the first is; where the
    -- first is a published 0 the later one is 0 too and shown as such.
    starred_linked as (
        select t, m, r, c from starred_2
    {%- if measures | length > 1 %}
            union
            select
                s.t,
                l.m,
                s.r,
                s.c
            from starred_2 as s
            inner join long as l on s.t = l.t and s.r = l.r and s.c = l.c and l.m <> s.m
            where s.m = '{{ measures[0] }}'
    {%- endif %}
    ),

    col_totals as (
        select t, m, c, sum(v) as total from long group by t, m, c
    ),

    starred_with_values as (
        select
            s.*,
            l.v,
            f.v as first_v,
            p.v as parent_v,
            exists (
                select 1 from starred_linked as sf
                where sf.t = s.t and sf.m = '{{ measures[0] }}' and sf.r = s.r and sf.c = s.c
            ) as first_starred,
            exists (
                select 1 from starred_linked as sp
                where sp.t = l.pt and sp.m = s.m and sp.r = s.r and sp.c = l.pc
            ) as parent_starred,
            exists (
                select 1
                from long as later
                inner join col_totals as lt on later.t = lt.t and later.m = lt.m and later.c = lt.c
                inner join col_totals as ft on ft.t = s.t and ft.m = s.m and ft.c = s.c
                inner join long as lp on later.pt = lp.t and later.m = lp.m and later.r = lp.r and later.pc = lp.c
                where
                    s.m = '{{ measures[0] }}' and later.t = s.t and later.m <> s.m and later.r = s.r
                    and later.c = s.c and lt.total = ft.total and lp.v = 0
                    and not exists (
                        select 1 from starred_linked as sl
                        where sl.t = lp.t and sl.m = lp.m and sl.r = lp.r and sl.c = lp.c
                    )
            ) as equals_a_known_zero
        from starred_linked as s
        inner join long as l on s.t = l.t and s.m = l.m and s.r = l.r and s.c = l.c
        inner join long as f on s.t = f.t and f.m = '{{ measures[0] }}' and s.r = f.r and s.c = f.c
        left join long as p on l.pt = p.t and l.m = p.m and l.r = p.r and l.pc = p.c
    ),

    -- A '*' zero that could only be zero is shown as 0: its column's '*' cells are all zero, its row total is a
    -- published 0, or (first measure) the later measure's column equals it and that row's later total is 0.
    live_cols as (
        select t, m, c from starred_with_values group by t, m, c having sum(v) > 0
    ),

    starred as (
        select s.t, s.m, s.r, s.c
        from starred_with_values as s
        where
            (s.first_starred or s.first_v > 0)
            and (
                s.v > 0
                or (
                    exists (select 1 from live_cols as lc where lc.t = s.t and lc.m = s.m and lc.c = s.c)
                    and not coalesce(s.parent_v = 0 and not s.parent_starred, false)
                    and not s.equals_a_known_zero
                )
            )
    ),

    flagged as (
        select
            ci.*
    {%- for m in measures %},
                exists (
                    select 1 from starred as s
                    where
                        s.t = ci.block_table and s.m = '{{ m }}' and s.r = ci.block_row and s.c = ci.block_col
                ) as {{ m }}_is_suppressed
    {%- endfor %}
        from cells_in as ci
    )

    select
        f.*
    {%- for m in measures %},
            {{ suppress_value('f.' ~ m, 'f.' ~ m ~ '_is_suppressed or f.' ~ m ~ ' between 1 and 7') }}
                as published_{{ m }}
    {%- endfor %}
    from flagged as f
{%- endmacro %}

{#- One cell: '*' when suppressed, else the count rounded to the nearest 5 (halves away from zero). -#}
{% macro suppress_value(value, suppressed) -%}
    case
        when {{ suppressed }} then '*'
        when {{ value }} is null then null
        else (round({{ value }}::numeric / 5) * 5)::bigint::text
    end
{%- endmacro %}

{#- A rate or share whose numerator or denominator is 1-7 people (or suppressed) is itself '*'. -#}
{% macro suppress_rate(rate, numerator, denominator, suppressed='false', digits=1) -%}
    case
        when {{ suppressed }} or {{ numerator }} between 1 and 7 or {{ denominator }} between 1 and 7 then '*'
        when {{ rate }} is null then null
        else round({{ rate }}::numeric, {{ digits }})::text
    end
{%- endmacro %}
