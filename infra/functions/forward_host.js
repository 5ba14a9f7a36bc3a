// CloudFront Function (cloudfront-js-2.0), viewer-request, edgestats origin-request mode.
// On origin-request the Host header is the origin's, so the viewer's Host is copied to
// x-forwarded-host for the Lambda@Edge function. A viewer-sent x-forwarded-host is
// always replaced or removed: the function must never trust the viewer's value.
function handler(event) {
    var request = event.request;
    var host = request.headers.host;
    if (host && host.value) {
        request.headers['x-forwarded-host'] = { value: host.value };
    } else {
        delete request.headers['x-forwarded-host'];
    }
    return request;
}
