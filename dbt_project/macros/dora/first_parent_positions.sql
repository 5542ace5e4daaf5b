{#-
  first_parent_positions(commits, heads, commits_sql): CTE definitions (to follow
  `commits` and `heads` in a WITH list) ending in `first_parent_positions`
  (repository_full_name, commit_sha, position): every commit on the first-parent chain
  walked back from its repository's head, position 1 = the oldest commit reached.

  `commits` (repository_full_name, commit_sha, first_parent_sha) and `heads`
  (repository_full_name, commit_sha) are CTE names; `commits_sql` is the query of the
  `commits` CTE (Spark runs steps of the walk before the model's query, outside its WITH).
-#}
{% macro first_parent_positions(commits, heads, commits_sql) -%}
    {{ return(adapter.dispatch('first_parent_positions', 'sei')(commits, heads, commits_sql)) }}
{%- endmacro %}

{#- DuckDB, PostgreSQL: a recursive CTE, one step per commit of the chain (the model's
    WITH is `with recursive`). -#}
{% macro default__first_parent_positions(commits, heads, commits_sql) -%}
chain (repository_full_name, commit_sha, first_parent_sha, depth) as (

    select c.repository_full_name, c.commit_sha, c.first_parent_sha, 0
    from {{ commits }} as c
    join {{ heads }} as h
        on h.repository_full_name = c.repository_full_name and h.commit_sha = c.commit_sha

    union all

    select p.repository_full_name, p.commit_sha, p.first_parent_sha, chain.depth + 1
    from chain
    join {{ commits }} as p
        on p.repository_full_name = chain.repository_full_name and p.commit_sha = chain.first_parent_sha
    where chain.depth < 1000000

),

first_parent_positions as (

    select
        repository_full_name,
        commit_sha,
        cast(max(depth) over (partition by repository_full_name) - depth + 1 as bigint) as position
    from chain

)
{%- endmacro %}

{#- Spark runs a recursive CTE one job per step and stops at 100 steps by default, while
    a default branch has thousands of commits. Instead, pointer jumping in a fixed number
    of joins: level i holds each commit's 2^i-th first-parent ancestor (`nxt`, null past
    the oldest commit present) and the steps actually taken (`dist`); after L levels
    (2^L > the longest history) `dist` is the commit's distance to the oldest commit of its
    own chain. A commit is on the head's chain when lifting the head by
    dist(head) - dist(commit) steps (binary lifting over the levels) lands on it; its
    position is then dist + 1, the same numbering as the recursive walk.
    Each level joins the previous one to itself, so as CTEs (or cached views, which keep
    their lineage) Spark would plan 2^L copies of the first: each level is written as a
    table of its own (`<model>__level_<i>` beside the model, replaced on every build),
    so each is planned once over plain files. -#}
{% macro spark__first_parent_positions(commits, heads, commits_sql) -%}
    {%- set ns = namespace(levels=1) -%}
    {%- set prefix = this.schema ~ '.' ~ this.identifier ~ '__level_' -%}
    {%- if execute -%}
        {%- set longest = run_query("select max(n) from (select count(*) as n from (" ~ commits_sql
                                    ~ ") as c group by repository_full_name) as t").columns[0].values()[0] or 0 -%}
        {%- for i in range(1, 63) -%}
            {%- if 2 ** i <= longest -%}{%- set ns.levels = i + 1 -%}{%- endif -%}
        {%- endfor -%}
        {%- do run_query("create schema if not exists " ~ this.schema) -%}
        {%- for i in range(ns.levels + 1) -%}
            {%- do run_query("drop table if exists " ~ prefix ~ i) -%}
        {%- endfor -%}
        {%- do run_query("create table " ~ prefix ~ "0 using parquet as
            select c.repository_full_name, c.commit_sha, p.commit_sha as nxt,
                   case when p.commit_sha is null then 0 else 1 end as dist
            from (" ~ commits_sql ~ ") as c
            left join (" ~ commits_sql ~ ") as p
                on p.repository_full_name = c.repository_full_name and p.commit_sha = c.first_parent_sha") -%}
        {%- for i in range(ns.levels) -%}
            {%- do run_query("create table " ~ prefix ~ (i + 1) ~ " using parquet as
                select a.repository_full_name, a.commit_sha, b.nxt, a.dist + coalesce(b.dist, 0) as dist
                from " ~ prefix ~ i ~ " as a
                left join " ~ prefix ~ i ~ " as b
                    on b.repository_full_name = a.repository_full_name and b.commit_sha = a.nxt") -%}
        {%- endfor -%}
    {%- endif -%}
fp_lift_0 as (
    select c.repository_full_name, c.commit_sha, c.dist, hd.dist - c.dist as k, h.commit_sha as x
    from {{ prefix }}{{ ns.levels }} as c
    join {{ heads }} as h on h.repository_full_name = c.repository_full_name
    join {{ prefix }}{{ ns.levels }} as hd
        on hd.repository_full_name = h.repository_full_name and hd.commit_sha = h.commit_sha
    where hd.dist >= c.dist
),
{%- for i in range(ns.levels) %}
fp_lift_{{ i + 1 }} as (
    select l.repository_full_name, l.commit_sha, l.dist, l.k,
           case when shiftright(l.k, {{ i }}) & 1 = 1 then j.nxt else l.x end as x
    from fp_lift_{{ i }} as l
    left join {{ prefix }}{{ i }} as j
        on j.repository_full_name = l.repository_full_name and j.commit_sha = l.x
),
{%- endfor %}
first_parent_positions as (
    select repository_full_name, commit_sha, cast(dist + 1 as bigint) as position
    from fp_lift_{{ ns.levels }}
    where x = commit_sha
)
{%- endmacro %}
