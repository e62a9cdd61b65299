/* placeholder: being written */
typedef int cji_placeholder_event_validate;
