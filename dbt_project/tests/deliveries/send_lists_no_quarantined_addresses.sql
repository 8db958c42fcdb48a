-- No send-list row of the run being prepared goes to an address in quarantine or on the denylist.
{%- set run = delivery_run() %}

select send_lists.send_list_id, send_lists.address, quarantines.quarantine_status
from {{ ref('send_lists') }} as send_lists
inner join {{ ref('address_quarantines') }} as quarantines
    on quarantines.channel = send_lists.channel
    and quarantines.address = send_lists.address
where {% if run is none or not run.exclude_quarantined %}1 = 0{% else %}send_lists.run_id = {{ sql_text(run.run_id) }}{% endif %}
    and send_lists.is_sendable
    and send_lists.profile_id is not null
    and quarantines.quarantine_status in ('quarantined', 'denylisted')
