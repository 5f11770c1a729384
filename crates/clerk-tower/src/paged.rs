//! How each list operation pages.

use clerk_core::users::{
    GetInstanceOrganizationMemberships, GetOrganizationInvitations, GetOrganizationMemberships,
    ListUsers,
};
use clerk_core::{
    OrganizationInvitation, OrganizationInvitations, OrganizationMembership,
    OrganizationMemberships, User,
};

use crate::pagination::{PageStart, Paged};

impl Paged for ListUsers {
    type Item = User;

    fn into_items(output: Vec<User>) -> Vec<User> {
        output
    }

    fn item_id(item: &User) -> &str {
        &item.id
    }

    fn page_size(&self) -> u64 {
        u64::from(self.get_limit())
    }

    fn first_offset(&self) -> u64 {
        self.get_offset()
    }

    fn total(_: &Vec<User>) -> Option<u64> {
        None
    }

    fn supports_cursor(&self) -> bool {
        self.uses_created_at_order()
    }

    fn at(&self, start: &PageStart) -> Self {
        match start {
            PageStart::Offset(offset) => self.clone().offset(*offset),
            PageStart::After(id) => self.clone().offset(0).starting_after(id.clone()),
        }
    }
}

macro_rules! offset_paged {
    ($request:ty, $output:ty, $item:ty) => {
        impl Paged for $request {
            type Item = $item;

            fn into_items(output: $output) -> Vec<$item> {
                output.data
            }

            fn item_id(item: &$item) -> &str {
                &item.id
            }

            fn page_size(&self) -> u64 {
                u64::from(self.get_limit())
            }

            fn first_offset(&self) -> u64 {
                self.get_offset()
            }

            fn total(output: &$output) -> Option<u64> {
                u64::try_from(output.total_count).ok()
            }

            fn supports_cursor(&self) -> bool {
                false
            }

            fn at(&self, start: &PageStart) -> Self {
                match start {
                    PageStart::Offset(offset) => self.clone().offset(*offset),
                    // Offset paging never produces a cursor.
                    PageStart::After(_) => self.clone(),
                }
            }
        }
    };
}

offset_paged!(
    GetOrganizationMemberships,
    OrganizationMemberships,
    OrganizationMembership
);
offset_paged!(
    GetOrganizationInvitations,
    OrganizationInvitations,
    OrganizationInvitation
);
offset_paged!(
    GetInstanceOrganizationMemberships,
    OrganizationMemberships,
    OrganizationMembership
);
