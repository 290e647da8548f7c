/* Reason phrases of the HTTP status codes duct sends (RFC 9110 §15). */
#ifndef DUCT_HTTP_STATUS_H
#define DUCT_HTTP_STATUS_H

/* "Not Found" for 404; "Unknown" for codes duct does not know. */
const char *http_status_text(int status);

#endif
