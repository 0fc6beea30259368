// Reads JSON lines {"id": N, "m": <manifest>} on stdin and prints, for each,
// what Node's imgmanifest says in every mode and what its upgrade gives.
// A thrown exception is reported as {"crash": "<message>"}.
//
// With --urls: reads JSON lines of strings instead, and prints for each what
// url.parse gives: {"p": protocol, "h": hostname} or {"e": "<message>"}.
//
// With --docker: reads JSON lines {"fn": NAME, "arg": ARG} and prints what
// imgmanifest[NAME](ARG) gives: {"ok": JSON.stringify(result)} or
// {"error": "<message>", "class": "<error class>"}. NAME "fields" prints
// JSON.stringify(imgmanifest.fields).
//
// With --bench ROUNDS: validates every manifest in every mode once to warm
// up, then ROUNDS times timed, and prints {"manifests": N, "seconds": S} instead.
'use strict';
var imgmanifest = require('imgmanifest');
var readline = require('readline');
var assert = require('assert');

var CHANNELS = {channelFromName: {dev: {name: 'dev'}, release: {name: 'release'}}};
var MODES = {
    'minimal': function (m) { return imgmanifest.validateMinimalManifest(m); },
    'dc': function (m) { return imgmanifest.validateDcManifest(m); },
    'public': function (m) { return imgmanifest.validatePublicManifest(m); },
    'private': function (m) { return imgmanifest.validatePrivateManifest(m); },
    'public+channels': function (m) { return imgmanifest.validatePublicManifest(m, CHANNELS); },
    'private+channels': function (m) { return imgmanifest.validatePrivateManifest(m, CHANNELS); }
};

function attempt(fn) {
    try {
        var r = fn();
        return {errors: r || []};
    } catch (e) {
        return {crash: String(e && e.message)};
    }
}

var lines = [];
var rl = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
rl.on('line', function (l) { if (l.trim()) lines.push(JSON.parse(l)); });
rl.on('close', function () {
    if (process.argv.indexOf('--docker') !== -1) {
        process.stdout.write(lines.map(function (c) {
            try {
                var r = c.fn === 'fields' ? imgmanifest.fields : imgmanifest[c.fn](c.arg);
                return JSON.stringify({ok: JSON.stringify(r)});
            } catch (e) {
                var cls = e instanceof assert.AssertionError ? 'AssertionError' : e.name;
                return JSON.stringify({error: String(e && e.message), 'class': cls});
            }
        }).join('\n') + '\n');
        return;
    }
    if (process.argv.indexOf('--urls') !== -1) {
        var url = require('url');
        process.stdout.write(lines.map(function (u) {
            try {
                var p = url.parse(u);
                return JSON.stringify({p: p.protocol, h: p.hostname});
            } catch (e) {
                return JSON.stringify({e: String(e && e.message)});
            }
        }).join('\n') + '\n');
        return;
    }
    var benchIdx = process.argv.indexOf('--bench');
    if (benchIdx !== -1) {
        var rounds = Number(process.argv[benchIdx + 1]) || 1;
        var fns = Object.keys(MODES).map(function (n) { return MODES[n]; });
        var ms = lines.map(function (c) { return c.m; });
        // Direct calls, errors counted as the Rust side does; try/catch
        // only because Node throws on some of the differential set.
        var errors = 0;
        var round = function () {
            for (var i = 0; i < ms.length; i++) {
                for (var j = 0; j < fns.length; j++) {
                    try {
                        errors += (fns[j](ms[i]) || []).length;
                    } catch (e) {
                        errors++;
                    }
                }
            }
        };
        round(); // warm-up, untimed: the JIT compiles the validators here
        var start = process.hrtime.bigint();
        for (var r = 0; r < rounds; r++) {
            round();
        }
        var secs = Number(process.hrtime.bigint() - start) / 1e9;
        console.log(JSON.stringify({manifests: lines.length * rounds, seconds: secs, errors: errors}));
        return;
    }
    var out = [];
    lines.forEach(function (c) {
        var res = {id: c.id, modes: {}};
        Object.keys(MODES).forEach(function (n) {
            res.modes[n] = attempt(function () { return MODES[n](c.m); });
        });
        var up = attempt(function () {
            var u = imgmanifest.upgradeManifest(JSON.parse(JSON.stringify(c.m)));
            return [JSON.stringify(u), JSON.stringify(u, null, 2)];
        });
        res.upgrade = up.crash !== undefined ? {error: up.crash} : {ok: up.errors[0], pretty: up.errors[1]};
        out.push(JSON.stringify(res));
    });
    process.stdout.write(out.join('\n') + '\n');
});
