import t from 'tap';
import { checkReplyTopic, topicMatches } from '../../../runtime/transport/reply-topic.js';
import { createTopics } from '../../../runtime/transport/topics.js';

const topics = createTopics('edge/dev');
const policy = { allow: ['#'], homeAssistantPrefix: 'homeassistant' };

t.test("refuses the service's own topics except its replies/ area and the request's own result topic", async (t) => {
  for (const topic of ['edge/dev', 'edge/dev/replies', 'edge/dev/replies/', 'edge/dev/status', 'edge/dev/telemetry', 'edge/dev/errors', 'edge/dev/models/digits/infer', 'edge/dev/models/spam/result', 'edge/dev/models/digits/events', 'edge/dev/commands/x', 'edge/dev/deploy']) {
    t.equal(checkReplyTopic(topic, 'digits', topics, policy)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED', topic);
  }
  t.equal(checkReplyTopic('edge/dev/models/digits/result', 'digits', topics, policy), null);
  t.equal(checkReplyTopic('edge/dev/replies/3f2a', 'digits', topics, policy), null, 'the reply area (shipped ACL, edge-infer request)');
  t.equal(checkReplyTopic('edge/dev/replies/a/b', 'digits', topics, policy), null);
  t.equal(checkReplyTopic('edge/dev/replies/', 'digits', topics, policy)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED', 'but not its bare folder');
  t.equal(checkReplyTopic('edge/dev/cmd/status', 'digits', topics, policy)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED', 'commands are refused');
  t.equal(checkReplyTopic('edge/device2/status', 'digits', topics, policy), null, "another device's tree is not ours");
});

t.test('refuses $-topics, wildcards, NUL, empty, over-long and Home Assistant topics', async (t) => {
  for (const topic of ['$SYS/foo', '$x/y', 'a/+/b', 'a/#', 'a\u0000b', '', 'x'.repeat(1025), 'homeassistant', 'homeassistant/device/x/config']) {
    t.equal(checkReplyTopic(topic, 'digits', topics, policy)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED', JSON.stringify(topic.slice(0, 40)));
  }
  t.equal(checkReplyTopic('homeassistantx/y', 'digits', topics, policy), null, 'only the prefix level itself');
  t.equal(checkReplyTopic('homeassistant/x', 'digits', topics, { allow: ['#'], homeAssistantPrefix: '' }), null, 'an empty prefix refuses nothing');
});

t.test('applies the allow-list as MQTT filters', async (t) => {
  const p = { allow: ['replies/+/answers', 'app/#'], homeAssistantPrefix: 'homeassistant' };
  t.equal(checkReplyTopic('replies/a/answers', 'digits', topics, p), null);
  t.equal(checkReplyTopic('app', 'digits', topics, p), null);
  t.equal(checkReplyTopic('app/x/y', 'digits', topics, p), null);
  t.equal(checkReplyTopic('replies/a/b/answers', 'digits', topics, p)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED');
  t.equal(checkReplyTopic('other', 'digits', topics, p)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED');
  t.notOk(topicMatches('#', '$SYS/x'), 'wildcards never match $ topics');
  t.ok(topicMatches('a/+', 'a/'), 'an empty level matches +');
});

t.test('a refusal echoes at most 128 characters of the topic', async (t) => {
  const err = checkReplyTopic(`other/${'y'.repeat(900)}`, 'digits', topics, { allow: ['app/#'], homeAssistantPrefix: '' });
  t.ok(err !== null && err.message.length < 400, `${err?.message.length} chars`);
});

t.test("takes reply topics under <prefix>/replies/, the requesters' subtree of the shipped ACL and `edge-infer request` (issue 12)", async (t) => {
  t.equal(checkReplyTopic('edge/dev/replies/0b8f-uuid', 'digits', topics, policy), null);
  t.equal(checkReplyTopic('edge/dev/replies/a/b', 'digits', topics, policy), null);
  t.equal(checkReplyTopic('edge/dev/replies/', 'digits', topics, policy)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED', 'not the bare subtree');
  t.equal(checkReplyTopic('edge/dev/replies', 'digits', topics, policy)?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED');
});
