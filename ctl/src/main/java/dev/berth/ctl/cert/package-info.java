/**
 * The cluster's certificates: a cluster CA (an EC P-256 key and a self-signed certificate) and
 * the node and client certificates it signs, written as PEM files. {@code berth cert} is its
 * command line; tests of other modules use it to make the material they start agents with.
 *
 * <pre>
 *   berth cert ca --out CA/            → CA/ca.pem, CA/ca-key.pem (0600)
 *   berth cert node a --ca CA/ --out A/ → A/ca.pem, A/cert.pem, A/key.pem (0600)   berthd --tls-*
 *   berth cert client me --ca CA/ --out C/ → the same three files                 BERTH_CERT_PATH=C/
 * </pre>
 *
 * <p>Depends on the JDK and Bouncy Castle's certificate builder only (nothing of the CLI), and
 * nothing outside {@code berth cert} loads it.
 */
package dev.berth.ctl.cert;
