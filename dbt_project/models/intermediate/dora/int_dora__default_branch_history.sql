-- Each repository's default branch as its first-parent chain, walked back from the head
-- (the default-branch commit no other one has as first parent; the latest if several):
-- one row per commit on the chain with its position, 1 = the oldest commit reached. Commits
-- of the branch that are not on the first-parent chain (a merged branch's own commits) get
-- no position: a deployment's change set is the chain between two deployed commits.
{%- set commits_sql -%}
    select repository_full_name, commit_sha, first_parent_sha, committed_at
    from {{ ref('stg_github__commits') }}
    where not is_deleted
{%- endset %}
with recursive commits as (

    {{ commits_sql }}

),

heads as (

    select repository_full_name, commit_sha
    from (
        select c.repository_full_name, c.commit_sha,
               row_number() over (partition by c.repository_full_name
                                  order by c.committed_at desc, c.commit_sha) as latest
        from commits as c
        where not exists (
            select 1 from commits as child
            where child.repository_full_name = c.repository_full_name
              and child.first_parent_sha = c.commit_sha
        )
    ) as h
    where latest = 1

),

{{ first_parent_positions('commits', 'heads', commits_sql) }}

select repository_full_name, commit_sha, position
from first_parent_positions
