"""The centre's JSON API: what units call (`units`) and what admins call with the admin token
(`admin`: fleet, audit, bundle, photos; `reports`: report, supervision, callbacks; `ledger`: the
差评 ledger, appeals, holidays). Each module is an APIRouter that centre.app includes."""
