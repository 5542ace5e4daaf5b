select developer_id, tree, team_id, valid_from, valid_to
from {{ ref('stg_org__memberships') }}
