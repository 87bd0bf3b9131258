'use strict';
// The donation form's pledge picker offers only the chosen donor's pledges: each of its searches
// carries the donor (donors.admin.PledgeAdmin.get_search_results narrows by it), and changing the
// donor clears a pledge chosen before. Loaded after the admin's autocomplete.js, so this runs once
// the admin has set the pickers up; it sets the pledge picker up again with the donor added.
{
    const $ = django.jQuery;

    $(function() {
        const donor = document.getElementById('id_donor');
        const pledge = document.getElementById('id_pledge');
        if (!donor || !pledge || !$(pledge).data('select2')) {
            return;
        }
        $(pledge).select2('destroy').select2({
            ajax: {
                data: (params) => ({
                    term: params.term,
                    page: params.page,
                    app_label: pledge.dataset.appLabel,
                    model_name: pledge.dataset.modelName,
                    field_name: pledge.dataset.fieldName,
                    donor: donor.value
                })
            }
        });
        $(donor).on('change', () => {
            $(pledge).val(null).trigger('change');
        });
    });
}
