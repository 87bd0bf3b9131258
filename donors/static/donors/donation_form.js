'use strict';
// The donation form's pledge picker offers only the chosen donor's pledges: each of its searches
// carries the donor (donors.admin.PledgeAdmin.get_search_results narrows by it), and changing the
// donor clears a pledge chosen before. The admin's pickers are left as the admin set them up; only
// the pledge picker's requests gain the donor.
{
    const $ = django.jQuery;

    $.ajaxPrefilter((options, original) => {
        const params = original.data;
        const donor = document.getElementById('id_donor');
        if (donor && params && params.model_name === 'donation' && params.field_name === 'pledge') {
            options.data += '&' + $.param({donor: donor.value});
        }
    });

    $(function() {
        const donor = document.getElementById('id_donor');
        const pledge = document.getElementById('id_pledge');
        if (donor && pledge) {
            $(donor).on('change', () => {
                $(pledge).val(null).trigger('change');
            });
        }
    });
}
