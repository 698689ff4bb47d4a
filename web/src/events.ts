// Socket.IO event names: mirror crates/common/src/contracts/events.rs.
export const C = {
  SEND_MESSAGE: 'send_message',
  JOIN_CHAT: 'join_chat',
  LEAVE_CHAT: 'leave_chat',
  TYPING: 'typing',
  READ_RECEIPT: 'read_receipt',
  DELIVERED: 'delivered',
  SYNC: 'sync',
  EDIT_MESSAGE: 'edit_message',
  DELETE_MESSAGE: 'delete_message',
  REACT_MESSAGE: 'react_message',
  SYNC_CHANGES: 'sync_changes',
} as const;

export const S = {
  NEW_MESSAGE: 'new_message',
  MESSAGE_DELIVERED: 'message_delivered',
  USER_TYPING: 'user_typing',
  MESSAGE_READ: 'message_read',
  USER_ONLINE: 'user_online',
  USER_OFFLINE: 'user_offline',
  PRESENCE_UPDATE: 'presence_update',
  PRESENCE_SNAPSHOT: 'presence_snapshot',
  CHAT_UPDATED: 'chat_updated',
  CHAT_CHANGED: 'chat_changed',
  RESYNC: 'resync',
  KEY_CHANGED: 'key_changed',
  PROFILE_CHANGED: 'profile_changed',
  USER_DELETED: 'user_deleted',
  CHAT_MUTED: 'chat_muted',
  MESSAGE_UPDATED: 'message_updated',
} as const;

export const MAX_PLAINTEXT_CHARS = 5000;
/** Most different emoji one message may have reactions with (`MAX_REACTION_KINDS` in common). */
export const MAX_REACTION_KINDS = 20;
