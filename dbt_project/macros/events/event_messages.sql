{#-
    join_event_messages(events): the joins that tie provider events (rows of `events`, which carry a message_id)
    to the message each is about, for message_events and channel_message_events. Left joins, so an event of an
    unknown message stays; they bring in, under these names:
      messages          the message in the imported history (int_messages_deduplicated), when it is one
      message_contacts  the identity of that message's contact (profile_identities)
      sends             Herald's own send of it (int_send_ledger_aggregated_to_messages), when it is one
      sends_contacts    the profile that send went to, as it is now (int_contacts_merged_to_profiles)

    event_message_profile_id(): the profile of the event's message: the send ledger's for a message Herald
    sent, else the profile of the history message's contact.
-#}
{% macro join_event_messages(events) -%}
    left join {{ ref('int_messages_deduplicated') }} as messages
        on {{ events }}.message_id = messages.message_id
    left join {{ ref('profile_identities') }} as message_contacts
        on messages.external_key = message_contacts.external_key
    left join {{ ref('int_send_ledger_aggregated_to_messages') }} as sends
        on {{ events }}.message_id = sends.message_id
    left join {{ ref('int_contacts_merged_to_profiles') }} as sends_contacts
        on sends.profile_id = sends_contacts.profile_id
{%- endmacro %}

{% macro event_message_profile_id() -%}
    coalesce(sends.profile_id, message_contacts.profile_id)
{%- endmacro %}
